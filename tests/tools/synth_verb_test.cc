// `fedlog synth` (tools/offline/synth_verb.cc): a refused command (an unknown format, a bad number) leaves the
// files it names as they were, and its message names the flag.
#include <algorithm>
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

class SynthVerbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("synth_verb_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    out_ = (dir_ / "site.log").string();
    std::ofstream(out_) << "an operator's own log\n";
  }
  std::filesystem::path dir_;
  std::string out_;
};

TEST_F(SynthVerbTest, UnknownFormatLeavesAnExistingFileAlone) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunSynth({"--format", "HDFSX", "--lines", "10", "--out", out_}), 2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("unknown format 'HDFSX'"), std::string::npos) << err;
  EXPECT_EQ(Read(out_), "an operator's own log\n");
  EXPECT_FALSE(std::filesystem::exists(out_ + ".labels.csv"));
}

TEST_F(SynthVerbTest, BadNumberNamesItsFlagAndWritesNothing) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunSynth({"--format", "HDFS", "--lines", "many", "--out", out_}), 2);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("--lines must be an integer"), std::string::npos) << err;
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunSynth({"--format", "HDFS", "--lines", "-5", "--out", out_}), 2);
  err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("lines must be >= 0"), std::string::npos) << err;
  EXPECT_EQ(Read(out_), "an operator's own log\n");
  EXPECT_FALSE(std::filesystem::exists(out_ + ".labels.csv"));
}

TEST_F(SynthVerbTest, WritesTheLogAndItsLabels) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunSynth({"--format", "Zookeeper", "--lines", "50", "--seed", "3", "--out", out_}), 0);
  testing::internal::GetCapturedStderr();
  const std::string log = Read(out_);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 50);
  const std::string labels = Read(out_ + ".labels.csv");
  EXPECT_EQ(labels.rfind("line,label,kind\n", 0), 0u);
  EXPECT_EQ(std::count(labels.begin(), labels.end(), '\n'), 51);
}

TEST_F(SynthVerbTest, UnwritableOutputSaysWhy) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunSynth({"--format", "HDFS", "--lines", "5", "--out", (dir_ / "no" / "such" / "x.log").string()}), 1);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
}

}  // namespace
}  // namespace fedlog::offline
