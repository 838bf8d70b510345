// FEDLOG_LOG_LEVEL (common/base/logging.h): the four level names set the level; any other value is logged as a
// warning and leaves the level as it was, so a typo does not pass silently.
#include "common/base/logging.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace fedlog {
namespace {

class LogLevelEnvTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("FEDLOG_LOG_LEVEL");
    SetLogLevel(LogLevel::kInfo);
  }
};

TEST_F(LogLevelEnvTest, NamesSetTheLevel) {
  setenv("FEDLOG_LOG_LEVEL", "Warning", 1);
  ParseLogLevelFromEnv();
  EXPECT_EQ(GetLogLevel(), LogLevel::kWarning);
  setenv("FEDLOG_LOG_LEVEL", "debug", 1);
  ParseLogLevelFromEnv();
  EXPECT_EQ(GetLogLevel(), LogLevel::kDebug);
}

TEST_F(LogLevelEnvTest, AnUnknownValueIsReportedAndChangesNothing) {
  SetLogLevel(LogLevel::kInfo);
  setenv("FEDLOG_LOG_LEVEL", "verbose", 1);
  testing::internal::CaptureStderr();
  ParseLogLevelFromEnv();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(GetLogLevel(), LogLevel::kInfo);
  EXPECT_NE(err.find("FEDLOG_LOG_LEVEL='verbose' is none of debug, info, warning, error"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace fedlog
