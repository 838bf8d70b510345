// Checks of the "host:port" addresses that operators write in configs and on the command line, so a missing
// port (gRPC would silently use 443) or an out-of-range one (gRPC would silently pick a random port) is refused
// with a clear message at start. Also a probe that tells "address in use" apart from other listen failures.
// Thread-safe (stateless).
#ifndef FEDLOG_COMMON_NET_ADDRESS_H_
#define FEDLOG_COMMON_NET_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"

namespace fedlog::net {

struct HostPort {
  std::string host;  // without brackets for IPv6 ("::1")
  int port = 0;
};

// Parses "host:port", "[v6]:port", or a gRPC target with a scheme ("dns:///host:port", "ipv4:h:p"; "unix:..." is
// accepted as is, port 0). The port must be 1..65535, or 0 when `allow_any_port` (any free port: tests).
// `what` names the setting in the error ("listen_address").
absl::StatusOr<HostPort> ParseHostPort(const std::string& address, const std::string& what,
                                       bool allow_any_port = false);

// Why listening on `hp` fails, found by binding a plain TCP socket to it (without SO_REUSEPORT): "address
// already in use", "permission denied", ... ; empty when it could be bound.
std::string ProbeListen(const HostPort& hp);

}  // namespace fedlog::net

#endif  // FEDLOG_COMMON_NET_ADDRESS_H_
