#include "tests/integration/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace fedlog::testing {
namespace {

constexpr int kSignals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};

// write(2) of a NUL-terminated string; errors are ignored (nothing else can be done in a dying process).
void Put(int fd, const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Decimal of `v` without allocating.
void PutNumber(int fd, long v) {
  char buf[24];
  int i = sizeof(buf) - 1;
  buf[i] = '\0';
  const bool negative = v < 0;
  unsigned long u = negative ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    buf[--i] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0 && i > 1);
  if (negative) buf[--i] = '-';
  Put(fd, buf + i);
}

void OnFatalSignal(int sig) {
  WriteCrashReport(sig, STDERR_FILENO);
  // The default action, so the process ends as it would have (core dump and exit status included).
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void WriteCrashReport(int sig, int fd) {
  Put(fd, "\n*** fedlog test: fatal signal ");
  PutNumber(fd, sig);
  Put(fd, " (");
  Put(fd, sig == SIGABRT ? "SIGABRT" : sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS"
          : sig == SIGFPE ? "SIGFPE" : sig == SIGILL ? "SIGILL" : "other");
  Put(fd, ") in thread ");
  PutNumber(fd, static_cast<long>(::syscall(SYS_gettid)));
  Put(fd, " of process ");
  PutNumber(fd, static_cast<long>(::getpid()));
  Put(fd, "; backtrace of that thread:\n");
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, fd);
  Put(fd, "*** end of the fedlog test's crash report\n");
}

bool InstallCrashReport() {
  static const bool installed = [] {
    // The first backtrace() loads the unwinder (it may allocate): do it now, not in a signal handler.
    void* frames[2];
    (void)::backtrace(frames, 2);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnFatalSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;  // a second fault in the handler ends the process by the default action
    bool ok = true;
    for (int sig : kSignals) ok = ::sigaction(sig, &sa, nullptr) == 0 && ok;
    return ok;
  }();
  return installed;
}

}  // namespace fedlog::testing
