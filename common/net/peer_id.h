// The rule for party ids (site ids, admin names) read from certificate CNs, and a certificate's identity,
// without gRPC so that the coordinator, tools and secure aggregation (common/secagg/peer_auth.h) can apply
// them too. An id is 1..64 characters of [A-Za-z0-9._-], starts with a letter or
// digit and contains no "..": safe as one path component, inside SQL text and comma-joined lists, and on a
// terminal. Thread-safe (stateless).
#ifndef FEDLOG_COMMON_NET_PEER_ID_H_
#define FEDLOG_COMMON_NET_PEER_ID_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace fedlog::net {

inline constexpr size_t kMaxPeerIdLength = 64;
bool IsValidPeerId(const std::string& id);

struct PeerIdentity {
  std::string id;    // certificate CN
  std::string role;  // certificate OU
  std::string pem;   // the certificate itself (PEM), as presented
};

// Parses CN and OU of a PEM certificate (the first in `pem`). Unauthenticated when the subject has more than one
// CN or OU, no CN, or a CN that is not a valid id (IsValidPeerId); InvalidArgument when it does not parse.
absl::StatusOr<PeerIdentity> IdentityFromPem(const std::string& pem);

}  // namespace fedlog::net

#endif  // FEDLOG_COMMON_NET_PEER_ID_H_
