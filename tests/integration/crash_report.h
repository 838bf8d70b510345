// A fatal-signal report for the integration test binaries (test code only, never product code): on SIGABRT,
// SIGSEGV, SIGBUS, SIGFPE or SIGILL it writes the signal, the thread and a backtrace of the failing thread to
// stderr, then lets the signal kill the process as before (ctest still reports "Subprocess aborted"). A rare
// abort under load (session 21: LineDpTest once, not reproduced) then leaves the frames that name its cause in
// the test's output (`ctest --output-on-failure`). Frames of exported functions are named (the binaries export
// their symbols: tests/integration/CMakeLists.txt); the others print as binary+offset, which
// `addr2line -f -C -e <binary> <offset>` names from the same build.
#ifndef FEDLOG_TESTS_INTEGRATION_CRASH_REPORT_H_
#define FEDLOG_TESTS_INTEGRATION_CRASH_REPORT_H_

namespace fedlog::testing {

// Installs the handlers (idempotent; test_env.cc calls it at static initialisation). Returns true once the
// handlers are in place.
bool InstallCrashReport();

// Writes the report for `sig` to `fd` from the calling thread (what the handler writes before the signal's
// default action); async-signal-safe apart from the first backtrace, which InstallCrashReport has already run.
void WriteCrashReport(int sig, int fd);

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_CRASH_REPORT_H_
