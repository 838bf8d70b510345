// Process-wide resource limits for the daemons. Every connection a peer opens costs the aggregator a file
// descriptor until it is closed, and the usual soft limit (1,024) is reached by a few hundred idle TCP
// connections: accept() then fails for everyone, honest sites and admins included (docs/SECURITY.md, "Limits an
// admin can set", its item on connections). server/main.cc raises the soft limit to the hard one at start; the
// aggregator's gRPC server also closes connections that do not finish their handshake or stay idle, and rebuilds
// a listener that failed an accept (server/aggregator_server.cc).
#ifndef FEDLOG_COMMON_BASE_PROCESS_LIMITS_H_
#define FEDLOG_COMMON_BASE_PROCESS_LIMITS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace fedlog {

struct OpenFileLimit {
  uint64_t before = 0;  // soft limit found
  uint64_t after = 0;   // soft limit now
  uint64_t hard = 0;    // hard limit (RLIM_INFINITY shown as UINT64_MAX)
};

// Raises the soft RLIMIT_NOFILE to the hard limit, or to at most `cap` when the hard limit is higher (or
// unlimited, which the kernel refuses for this resource). Never lowers it. An error when the limits cannot be
// read or set; the process can still run on the limit it has.
absl::StatusOr<OpenFileLimit> RaiseOpenFileLimit(uint64_t cap = uint64_t{1} << 20);

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_PROCESS_LIMITS_H_
