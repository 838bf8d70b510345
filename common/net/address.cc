#include "common/net/address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fedlog::net {

absl::StatusOr<HostPort> ParseHostPort(const std::string& address, const std::string& what, bool allow_any_port) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) return HostPort{address, 0};
  std::string rest = address;
  for (const char* scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(rest, scheme)) {
      rest = rest.substr(std::strlen(scheme));
      break;
    }
  }
  HostPort hp;
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", address, "': unclosed '[' in an IPv6 address"));
    }
    hp.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(':') == colon) {
      hp.host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    } else {
      hp.host = rest;  // no colon, or a bare IPv6 address: no port either way
    }
  }
  if (hp.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", address, "' has no host; write host:port"));
  }
  if (port.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " '", address, "' has no port; write host:port (the aggregator's default port is 7443)"));
  }
  const int min_port = allow_any_port ? 0 : 1;
  if (!absl::SimpleAtoi(port, &hp.port) || hp.port < min_port || hp.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", address, "': port '", port, "' is not a number in ", min_port, "..65535"));
  }
  return hp;
}

std::string ProbeListen(const HostPort& hp) {
  if (hp.port <= 0) return "";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string host = hp.host == "0.0.0.0" || hp.host == "[::]" || hp.host == "::" || hp.host.empty()
                               ? std::string()
                               : hp.host;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(hp.port).c_str(), &hints, &res);
      rc != 0) {
    return absl::StrCat("cannot resolve '", hp.host, "': ", gai_strerror(rc));
  }
  std::string why;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));  // TIME_WAIT is not "in use"
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = errno == EADDRINUSE ? std::string("address already in use (is another process listening there?)")
                                : std::string(std::strerror(errno));
    }
    ::close(fd);
    if (!why.empty()) break;
  }
  freeaddrinfo(res);
  return why;
}

}  // namespace fedlog::net
