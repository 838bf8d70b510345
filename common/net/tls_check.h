// Start-up checks of a party's TLS files, so an operator learns in one sentence which file is wrong (missing,
// not PEM, a key that does not belong to the certificate, a certificate not signed by the CA) instead of a
// crash or a gRPC "empty address list" later. Thread-safe (stateless).
#ifndef FEDLOG_COMMON_NET_TLS_CHECK_H_
#define FEDLOG_COMMON_NET_TLS_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/net/tls.h"

namespace fedlog::net {

// Reads and parses the three files of `files`. Each error names the file and the setting (`prefix` + "ca_cert",
// "cert", "key"; e.g. prefix "tls." for configs, "--" for the CLI): missing or unreadable, not PEM, a key that
// does not belong to the certificate. A lone certificate not signed by the CA in ca_cert is only logged as a
// warning: that is right when the peer trusts another CA than this side does, but usually a mix-up.
absl::Status CheckTlsFiles(const TlsFiles& files, const std::string& prefix = "tls.");

// The subject of the (first) certificate in the PEM file at `path`, e.g. "CN=fedlog-dev-ca"; "" when unreadable.
std::string CertificateSubject(const std::string& path);

// The issuer of the (first) certificate in the PEM file at `path`; "" when unreadable.
std::string CertificateIssuer(const std::string& path);

// True when a gRPC status message describes a failed TLS handshake (as opposed to a refused TCP connection).
bool LooksLikeTlsFailure(const std::string& grpc_message);

}  // namespace fedlog::net

#endif  // FEDLOG_COMMON_NET_TLS_CHECK_H_
