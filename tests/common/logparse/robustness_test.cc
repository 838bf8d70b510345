// Hostile input: nothing crashes and no line is lost, whatever the bytes.
#include <random>
#include <string>

#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "gtest/gtest.h"

namespace fedlog::logparse {
namespace {

// Parses every line of `data` with `format` and Drain; returns the line count and checks every line got a
// template.
int64_t ParseAll(const std::string& format, std::string_view data, ParseStats* stats) {
  auto parser = *CreateLineParser(format);
  auto drain = *Drain::Create(DrainOptions{});
  ParsedLine p;
  std::vector<std::string_view> params;
  int64_t n = 0;
  ForEachLine(data, [&](std::string_view line) {
    parser->Parse(line, &p);
    stats->Add(p);
    const DrainResult r = drain->Add(p.content);
    EXPECT_GE(r.template_id, 0);
    drain->LastParameters(r.template_id, &params);
    ++n;
  });
  return n;
}

class RobustnessTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RobustnessTest, InvalidUtf8AndNulBytes) {
  std::string data = "081109 203615 148 INFO dfs.X: bad \xff\xfe\xc3 bytes\n";
  data += std::string("081109 203615 148 INFO dfs.X: nul \0 inside", 41) + "\n";
  data += std::string("\0\0\0", 3) + "\n";
  ParseStats stats;
  EXPECT_EQ(ParseAll(GetParam(), data, &stats), 3);
  EXPECT_EQ(stats.lines, 3);
}

TEST_P(RobustnessTest, OneMegabyteLines) {
  std::string big(1 << 20, 'a');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = ' ';
  std::string data = big + "\n" + std::string(1 << 20, 'x') + "\n" + "Dec 10 06:55:46 h sshd[1]: " + big + "\n";
  ParseStats stats;
  EXPECT_EQ(ParseAll(GetParam(), data, &stats), 3);
}

TEST_P(RobustnessTest, EmptyLinesCrlfAndTruncatedLastLine) {
  const std::string data = "\n\r\n\n081109 203615 148 INFO dfs.X: ok\r\n081109 2036";
  ParseStats stats;
  EXPECT_EQ(ParseAll(GetParam(), data, &stats), 5);
  EXPECT_EQ(stats.lines, 5);
}

TEST_P(RobustnessTest, RandomBytesNeverLoseALine) {
  std::mt19937 rng(7);
  std::string data;
  int64_t newlines = 0;
  for (int i = 0; i < 20000; ++i) {
    char c = static_cast<char>(rng() & 0xff);
    if (c == '\n') ++newlines;
    data.push_back(c);
  }
  data.push_back('x');  // the last line has no newline
  ParseStats stats;
  EXPECT_EQ(ParseAll(GetParam(), data, &stats), newlines + 1);
}

INSTANTIATE_TEST_SUITE_P(Formats, RobustnessTest,
                         ::testing::Values("HDFS", "OpenSSH", "Zookeeper", "Thunderbird", "Mac", "syslog", "jsonl",
                                           "format:<Date> <Time> (\\[<Level>\\] )?<Content>"));

TEST(RobustnessTest, MixedFormatsInOneFileKeepEveryLine) {
  const std::string data =
      "081109 203615 148 INFO dfs.DataNode: Receiving block blk_1\n"
      "Dec 10 sshd[24200]: Invalid user x from 1.2.3.4\n"
      "{\"msg\": \"json line\"}\n"
      "081109 203616 149 INFO dfs.DataNode: Receiving block blk_2\n";
  ParseStats stats;
  EXPECT_EQ(ParseAll("HDFS", data, &stats), 4);
  EXPECT_EQ(stats.unmatched, 2);  // counted, not dropped
}

TEST(LineReaderTest, SplitsLikeNl) {
  EXPECT_EQ(SplitLines("").size(), 0u);
  EXPECT_EQ(SplitLines("a").size(), 1u);
  EXPECT_EQ(SplitLines("a\n").size(), 1u);
  EXPECT_EQ(SplitLines("a\n\nb").size(), 3u);
}

TEST(LineReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadLogFile("/nonexistent/fedlog/file.log").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fedlog::logparse
