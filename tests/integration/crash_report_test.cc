// The integration binaries' fatal-signal report (tests/integration/crash_report.h): an abort in any thread
// leaves its signal, thread and named frames in the test's output, and the process still dies by the signal.
#include "tests/integration/crash_report.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedlog {
namespace {

using ::testing::HasSubstr;

// The report WriteCrashReport writes for `sig` from this thread, read back through a pipe.
std::string ReportFor(int sig) {
  int fds[2];
  if (::pipe(fds) != 0) return "";
  testing::WriteCrashReport(sig, fds[1]);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  return out;
}

TEST(CrashReportTest, NamesTheSignalAndTheFramesOfTheFailingThread) {
  const std::string report = ReportFor(SIGABRT);
  EXPECT_THAT(report, HasSubstr("fatal signal 6 (SIGABRT)"));
  EXPECT_THAT(report, HasSubstr("backtrace of that thread"));
  // The binary exports its symbols, so the frame that wrote the report is named (mangled), not a bare address.
  EXPECT_THAT(report, HasSubstr("WriteCrashReport"));
  EXPECT_THAT(report, HasSubstr("end of the fedlog test's crash report"));
}

// An abort in a thread other than the test's: the process still dies by SIGABRT, and its stderr carries the
// report with the aborting frames.
TEST(CrashReportDeathTest, AnAbortInAnotherThreadIsReportedAndStillKillsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_TRUE(testing::InstallCrashReport());
  EXPECT_EXIT(
      {
        std::thread t([] { std::abort(); });
        t.join();
      },
      ::testing::KilledBySignal(SIGABRT),
      "fatal signal 6 \\(SIGABRT\\) in thread [0-9]+ of process [0-9]+.*abort.*end of the fedlog test");
}

// What the harness defect fixed in secagg_test looked like: a std::thread destroyed while joinable (an ASSERT
// returning past its join) ends in std::terminate; the report follows libstdc++'s terminate message.
TEST(CrashReportDeathTest, AJoinableThreadDestroyedIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_TRUE(testing::InstallCrashReport());
  EXPECT_EXIT(
      {
        std::thread t([] { ::pause(); });
        // t goes out of scope joinable: std::terminate, then abort.
      },
      ::testing::KilledBySignal(SIGABRT),
      "terminate called without an active exception.*fatal signal 6 \\(SIGABRT\\).*end of the fedlog test");
}

}  // namespace
}  // namespace fedlog
