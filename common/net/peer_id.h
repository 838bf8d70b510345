// The rule for party ids (site ids, admin names) read from certificate CNs, without gRPC so that the
// coordinator and tools can apply it too. An id is 1..64 characters of [A-Za-z0-9._-], starts with a letter or
// digit and contains no "..": safe as one path component, inside SQL text and comma-joined lists, and on a
// terminal. Thread-safe (stateless).
#ifndef FEDLOG_COMMON_NET_PEER_ID_H_
#define FEDLOG_COMMON_NET_PEER_ID_H_

#include <cstddef>
#include <string>

namespace fedlog::net {

inline constexpr size_t kMaxPeerIdLength = 64;
bool IsValidPeerId(const std::string& id);

}  // namespace fedlog::net

#endif  // FEDLOG_COMMON_NET_PEER_ID_H_
