// `fedlog parse` (tools/offline/parse_verb.cc): a mistyped input FILE is refused before anything is written, so
// --out keeps what it held and stdout gets no half table.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tools/offline/verbs.h"

namespace fedlog::offline {
namespace {

// The file's bytes, or "" when it cannot be read.
std::string Read(const std::filesystem::path& p) { return ReadFile(p.string()).value_or(""); }

TEST(ParseVerbTest, MissingInputLeavesOutputAlone) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "parse_verb_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string log = (dir / "hdfs.log").string(), out = (dir / "parsed.csv").string();
  std::ofstream(log) << "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
                        "blk_38865049064139660 terminating\n";
  std::ofstream(out) << "yesterday's table\n";
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int rc = RunParse({"--format", "HDFS", "--out", out, log, (dir / "hdfs.lgo").string()});
  const std::string stdout_text = testing::internal::GetCapturedStdout();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("fedlog parse: cannot open '"), std::string::npos) << err;
  EXPECT_NE(err.find("hdfs.lgo"), std::string::npos) << err;
  EXPECT_EQ(Read(out), "yesterday's table\n");
  EXPECT_EQ(stdout_text, "");

  testing::internal::CaptureStderr();
  EXPECT_EQ(RunParse({"--format", "HDFS", "--out", out, log}), 0);
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(Read(out).rfind("file,line,time_ms,level,component,matched,template_id,parameters\n", 0), 0u);
}

}  // namespace
}  // namespace fedlog::offline
