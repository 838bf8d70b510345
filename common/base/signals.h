// Graceful termination for daemons. A SIGINT/SIGTERM handler writes to a self-pipe, so the signal is caught
// whichever thread the kernel delivers it to (libraries such as OpenBLAS start threads before main(), which
// rules out blocking the signals and calling sigwait). Call InstallTerminationHandler() once in main().
#ifndef FEDLOG_COMMON_BASE_SIGNALS_H_
#define FEDLOG_COMMON_BASE_SIGNALS_H_

#include "absl/status/status.h"

namespace fedlog {

absl::Status InstallTerminationHandler();

// Blocks until SIGINT/SIGTERM arrives or RequestTermination() is called; returns the signal number (0 when
// requested from inside the process).
int WaitForTermination();

// Wakes WaitForTermination() from inside the process (e.g. when a daemon loop ends on its own).
void RequestTermination();

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_SIGNALS_H_
