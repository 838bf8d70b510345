#include "common/logparse/synth/synth.h"

#include <sstream>

#include "absl/strings/str_split.h"
#include "common/logparse/line_parser.h"
#include "gtest/gtest.h"

namespace fedlog::logparse::synth {
namespace {

class SynthTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthTest, DeterministicParsableAndLabelled) {
  SynthOptions o;
  o.format = GetParam();
  o.lines = 5000;
  o.seed = 99;
  o.incident_rate = 0.01;
  std::ostringstream log1, labels1, log2, labels2, log3, labels3;
  ASSERT_TRUE(WriteSynthetic(o, log1, labels1).ok());
  ASSERT_TRUE(WriteSynthetic(o, log2, labels2).ok());
  EXPECT_EQ(log1.str(), log2.str());
  EXPECT_EQ(labels1.str(), labels2.str());
  o.seed = 100;
  ASSERT_TRUE(WriteSynthetic(o, log3, labels3).ok());
  EXPECT_NE(log1.str(), log3.str());

  ParserOptions po;
  po.default_year = 2024;
  auto parser = *CreateLineParser(GetParam(), po);
  std::vector<std::string> lines = absl::StrSplit(log1.str(), '\n', absl::SkipEmpty());
  std::vector<std::string> labels = absl::StrSplit(labels1.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5000u);
  ASSERT_EQ(labels.size(), 5001u);  // header
  EXPECT_EQ(labels[0], "line,label,kind");
  ParsedLine p;
  int64_t anomalous = 0, previous_ms = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    parser->Parse(lines[i], &p);
    ASSERT_TRUE(p.matched) << lines[i];
    ASSERT_NE(p.time_ms, kNoTime) << lines[i];
    EXPECT_GE(p.time_ms, 1704067200000);
    previous_ms = p.time_ms;
    std::vector<std::string> f = absl::StrSplit(labels[i + 1], ',');
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0], std::to_string(i + 1));
    EXPECT_EQ(f[1] == "1", !f[2].empty());  // a kind exactly on anomalous lines
    anomalous += f[1] == "1" ? 1 : 0;
  }
  EXPECT_GT(previous_ms, 1704067200000);
  EXPECT_GT(anomalous, 50);     // 1% burst starts of 20-100 lines each
  EXPECT_LT(anomalous, 4000);
}

INSTANTIATE_TEST_SUITE_P(Formats, SynthTest, ::testing::ValuesIn(SynthFormats()));

TEST(SynthOptionsTest, BadOptionsAreInvalidArgument) {
  SynthOptions o;
  o.format = "Nope";
  std::ostringstream a, b;
  EXPECT_EQ(WriteSynthetic(o, a, b).code(), absl::StatusCode::kInvalidArgument);
  o.format = "HDFS";
  o.incident_rate = 2;
  EXPECT_EQ(WriteSynthetic(o, a, b).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SynthOptionsTest, EveryKindAppearsOverALongRun) {
  SynthOptions o;
  o.format = "Linux";
  o.lines = 60000;
  o.incident_rate = 0.01;
  std::ostringstream log, labels;
  ASSERT_TRUE(WriteSynthetic(o, log, labels).ok());
  for (const char* kind : {"oom_kill", "disk_full", "auth_brute_force", "crash_loop"}) {
    EXPECT_NE(labels.str().find(kind), std::string::npos) << kind;
  }
}

}  // namespace
}  // namespace fedlog::logparse::synth
