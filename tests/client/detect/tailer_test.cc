// Tailer: rotation by rename and by copytruncate, new files under a glob, and resuming from saved
// offsets (also after a rename while stopped) lose and repeat no line.
#include "client/detect/tailer.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

using testing::FreshDir;

void Append(const std::string& path, int from, int to) {
  std::ofstream f(path, std::ios::app);
  for (int i = from; i < to; ++i) f << "line " << i << "\n";
}

struct Collector {
  std::vector<std::string> lines;
  std::map<std::pair<uint64_t, uint64_t>, FileOffset> offsets;  // last offset per file
  EmitFn emit() {
    return [this](RawLine&& l) {
      lines.push_back(l.text);
      offsets[{l.dev, l.ino}] = {"app", l.dev, l.ino, l.file, l.end_offset};
      return true;
    };
  }
  std::vector<FileOffset> saved() const {
    std::vector<FileOffset> out;
    for (const auto& [k, v] : offsets) out.push_back(v);
    return out;
  }
};

std::vector<std::string> Expected(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(absl::StrCat("line ", i));
  return out;
}

TailerOptions Fast() { return TailerOptions{false, /*rotate_grace_ms=*/0}; }

TEST(TailerTest, RenameRotationReadsOldFileToEndThenNewFile) {
  const std::string dir = FreshDir("rename");
  const std::string log = dir + "/app.log";
  Append(log, 0, 10);
  Collector c;
  Tailer t({{"app", "HDFS", {log}}}, {}, Fast());
  ASSERT_TRUE(t.Poll(c.emit()));
  Append(log, 10, 15);  // written before the rename, not read yet
  std::filesystem::rename(log, log + ".1");
  Append(log, 15, 20);
  ASSERT_TRUE(t.Poll(c.emit()));
  ASSERT_TRUE(t.Poll(c.emit()));
  EXPECT_EQ(c.lines, Expected(0, 20));
  EXPECT_EQ(t.followed_files(), 1);
}

TEST(TailerTest, CopyTruncateRereadsFromStart) {
  const std::string dir = FreshDir("copytruncate");
  const std::string log = dir + "/app.log";
  Append(log, 0, 10);
  Collector c;
  Tailer t({{"app", "HDFS", {log}}}, {}, Fast());
  ASSERT_TRUE(t.Poll(c.emit()));
  std::filesystem::copy_file(log, log + ".1");
  std::filesystem::resize_file(log, 0);
  Append(log, 10, 13);
  ASSERT_TRUE(t.Poll(c.emit()));
  EXPECT_EQ(c.lines, Expected(0, 13));
  EXPECT_EQ(t.counters().truncations, 1);
}

TEST(TailerTest, FollowsNewFilesMatchingGlobAndKeepsPartialLines) {
  const std::string dir = FreshDir("glob");
  Append(dir + "/a.log", 0, 3);
  Collector c;
  Tailer t({{"app", "HDFS", {dir + "/*.log"}}}, {}, Fast());
  ASSERT_TRUE(t.Poll(c.emit()));
  {
    std::ofstream f(dir + "/b.log");
    f << "line 3\nline 4";  // no newline yet
  }
  ASSERT_TRUE(t.Poll(c.emit()));
  EXPECT_EQ(c.lines, Expected(0, 4));
  {
    std::ofstream f(dir + "/b.log", std::ios::app);
    f << "\n";
  }
  ASSERT_TRUE(t.Poll(c.emit()));
  EXPECT_EQ(c.lines, Expected(0, 5));
}

TEST(TailerTest, ResumesFromSavedOffsetsAndFindsFilesRenamedWhileStopped) {
  const std::string dir = FreshDir("resume");
  const std::string log = dir + "/app.log";
  Append(log, 0, 10);
  Collector c;
  {
    Tailer t({{"app", "HDFS", {log}}}, {}, Fast());
    ASSERT_TRUE(t.Poll(c.emit()));
  }
  // While "stopped": more lines, a rename rotation, and a new file.
  Append(log, 10, 12);
  std::filesystem::rename(log, log + ".1");
  Append(log, 12, 16);
  Tailer t2({{"app", "HDFS", {log}}}, c.saved(), Fast());
  ASSERT_TRUE(t2.Poll(c.emit()));
  ASSERT_TRUE(t2.Poll(c.emit()));
  EXPECT_EQ(c.lines, Expected(0, 16));
}

TEST(TailerTest, StartAtEndSkipsExistingContentOnlyWithoutSavedOffset) {
  const std::string dir = FreshDir("end");
  const std::string log = dir + "/app.log";
  Append(log, 0, 5);
  Collector c;
  Tailer t({{"app", "HDFS", {log}}}, {}, TailerOptions{true, 0});
  ASSERT_TRUE(t.Poll(c.emit()));
  EXPECT_TRUE(c.lines.empty());
  Append(log, 5, 7);
  ASSERT_TRUE(t.Poll(c.emit()));
  EXPECT_EQ(c.lines, Expected(5, 7));
}

TEST(TailerTest, CutsOverlongLinesAtExactOffsets) {
  const std::string dir = FreshDir("long");
  const std::string log = dir + "/app.log";
  const std::string run(3 * kMaxLineBytes + 5, 'x');
  {
    std::ofstream f(log);
    f << run << "\nline 1\n";
  }
  std::vector<RawLine> got;
  Tailer t({{"app", "HDFS", {log}}}, {}, Fast());
  ASSERT_TRUE(t.Poll([&](RawLine&& l) {
    got.push_back(std::move(l));
    return true;
  }));
  ASSERT_GE(got.size(), 3u);
  EXPECT_GE(t.counters().long_lines_cut, 2);
  // The pieces rebuild the run, each offset is where its piece ends in the file, memory stays
  // bounded.
  std::string rebuilt;
  int64_t prev = 0;
  for (size_t i = 0; i + 1 < got.size(); ++i) {
    EXPECT_LE(got[i].text.size(), kMaxLineBytes + TailerOptions{}.read_chunk);
    rebuilt += got[i].text;
    const int64_t step = got[i].end_offset - prev;
    EXPECT_TRUE(step == static_cast<int64_t>(got[i].text.size()) ||
                step == static_cast<int64_t>(got[i].text.size()) + 1);
    prev = got[i].end_offset;
  }
  EXPECT_EQ(rebuilt, run);
  EXPECT_EQ(got.back().text, "line 1");
  EXPECT_EQ(got.back().end_offset, static_cast<int64_t>(run.size() + 8));
}

}  // namespace
}  // namespace fedlog::client::detect
