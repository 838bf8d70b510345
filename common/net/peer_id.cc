#include "common/net/peer_id.h"

namespace fedlog::net {

bool IsValidPeerId(const std::string& id) {
  if (id.empty() || id.size() > kMaxPeerIdLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  for (char c : id) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return id.find("..") == std::string::npos;
}

}  // namespace fedlog::net
