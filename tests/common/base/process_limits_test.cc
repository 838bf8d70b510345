#include "common/base/process_limits.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "gtest/gtest.h"

namespace fedlog {
namespace {

// Runs `body` in a child process (limits set there do not touch the test binary) and returns its exit code.
int InChild(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

// Sets soft/hard limits; returns false when the kernel refuses.
bool SetLimits(rlim_t soft, rlim_t hard) {
  rlimit rl{soft, hard};
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

rlim_t SoftNow() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

TEST(ProcessLimitsTest, RaisesTheSoftLimitToTheHardOne) {
  EXPECT_EQ(InChild([] {
              if (!SetLimits(64, 300)) return 10;
              auto l = RaiseOpenFileLimit();
              if (!l.ok()) return 11;
              if (l->before != 64 || l->after != 300 || l->hard != 300) return 12;
              return SoftNow() == 300 ? 0 : 13;
            }),
            0);
}

TEST(ProcessLimitsTest, StopsAtTheCapAndNeverLowers) {
  EXPECT_EQ(InChild([] {
              if (!SetLimits(64, 300)) return 10;
              auto l = RaiseOpenFileLimit(/*cap=*/128);
              if (!l.ok() || l->after != 128 || SoftNow() != 128) return 11;
              auto again = RaiseOpenFileLimit(/*cap=*/100);  // below the soft limit: nothing changes
              if (!again.ok() || again->before != 128 || again->after != 128) return 12;
              return SoftNow() == 128 ? 0 : 13;
            }),
            0);
}

}  // namespace
}  // namespace fedlog
