// `fedlog alerts` (tools/site/alerts_verb.cc): --since filters by the alert's time, which is its log line's own
// timestamp; when that leaves out every alert, the verb says so and gives the newest time instead of printing
// an empty table alone. The table shows when each alert was raised ("-" for a line of an older version).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
void AddAlertsVerb(std::vector<Verb>* verbs);  // tools/site/alerts_verb.cc
namespace {

class AlertsVerbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddAlertsVerb(&verbs_);
    ASSERT_EQ(verbs_.size(), 1u);
    // One file per test and process: ctest runs these tests in parallel processes, and a shared name let one
    // test's truncate-and-rewrite race another's read (an empty table in CI).
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    file_ = (std::filesystem::path(::testing::TempDir()) /
             ("alerts_verb_test." + test + "." + std::to_string(::getpid()) + ".jsonl"))
                .string();
    std::ofstream out(file_, std::ios::trunc);
    out << R"({"id":"00000000000000a1","time":"2024-01-01T00:08:48.000Z","source":"HDFS","line":"disk full",)"
        << R"("score":0.97,"threshold":0.9,"model_version":4})" << "\n"
        << R"({"id":"00000000000000a2","time":"2024-01-01T00:09:10.000Z","source":"HDFS","line":"disk full",)"
        << R"("score":0.98,"threshold":0.9,"model_version":4,"raised":"2026-12-07T13:02:03.456Z"})" << "\n";
  }
  int Run(const std::vector<std::string>& args, std::string* out, std::string* err) {
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    const int rc = verbs_[0].run(args);
    *out = testing::internal::GetCapturedStdout();
    *err = testing::internal::GetCapturedStderr();
    return rc;
  }
  void TearDown() override { std::filesystem::remove(file_); }
  std::vector<Verb> verbs_;
  std::string file_;
};

TEST_F(AlertsVerbTest, SinceThatLeavesOutEveryAlertSaysWhy) {
  std::string out, err;
  ASSERT_EQ(Run({"--file", file_, "--since", "1h"}, &out, &err), 0);
  EXPECT_EQ(out.find("00000000000000a1"), std::string::npos) << out;
  EXPECT_NE(err.find("0 alert(s) from"), std::string::npos) << err;
  EXPECT_NE(err.find("2 alert(s) are older than --since 1h"), std::string::npos) << err;
  EXPECT_NE(err.find("the newest of them is 2024-01-01T00:09:10Z"), std::string::npos) << err;
}

TEST_F(AlertsVerbTest, WithoutSinceOrWithAnOlderOneEveryAlertIsShown) {
  std::string out, err;
  ASSERT_EQ(Run({"--file", file_}, &out, &err), 0);
  EXPECT_NE(out.find("00000000000000a1"), std::string::npos) << out;
  EXPECT_NE(out.find("00000000000000a2"), std::string::npos) << out;
  EXPECT_EQ(err.find("older than"), std::string::npos) << err;
  ASSERT_EQ(Run({"--file", file_, "--since", "2024-01-01T00:09:00Z"}, &out, &err), 0);
  EXPECT_EQ(out.find("00000000000000a1"), std::string::npos) << out;
  EXPECT_NE(out.find("00000000000000a2"), std::string::npos) << out;
  EXPECT_EQ(err.find("older than"), std::string::npos) << err;  // something is shown: no note
}

TEST_F(AlertsVerbTest, TableShowsWhenEachAlertWasRaisedAndDashForOldLines) {
  std::string out, err;
  ASSERT_EQ(Run({"--file", file_}, &out, &err), 0);
  EXPECT_NE(out.find("RAISED"), std::string::npos) << out;
  std::vector<std::string> rows;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    rows.push_back(out.substr(start, end - start));
  }
  ASSERT_EQ(rows.size(), 3u) << out;
  // The old line (no "raised" key) reads as before, with "-" in the RAISED column.
  EXPECT_EQ(rows[1].rfind("2024-01-01T00:08:48.000Z -", 0), 0u) << rows[1];
  EXPECT_EQ(rows[2].rfind("2024-01-01T00:09:10.000Z 2026-12-07T13:02:03.456Z", 0), 0u) << rows[2];
}

}  // namespace
}  // namespace fedlog::cli
