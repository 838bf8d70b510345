// mTLS credentials for both ends and the identity of a peer, read from its verified certificate.
// Identity rules: CN = the party's id (site id, admin name), OU = its role ("site", "admin", "aggregator"); exactly
// one of each, and the id restricted to a safe character set (IsValidPeerId).
// The aggregator never takes a site id from a request field: services call PeerIdentityOf(context).
// Thread-safe (stateless).
#ifndef FEDLOG_COMMON_NET_TLS_H_
#define FEDLOG_COMMON_NET_TLS_H_

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/net/peer_id.h"

namespace fedlog::net {

struct TlsFiles {
  std::string ca_cert;  // path of the CA certificate (PEM)
  std::string cert;     // path of this party's certificate (PEM)
  std::string key;      // path of its private key (PEM)
};

// Whether a peer whose certificate verified against the CA may finish its TLS handshake: OK admits it; any
// other status refuses the handshake (the connection closes before any HTTP/2 frame is read).
using PeerAdmission = std::function<absl::Status(const PeerIdentity&)>;

// Server credentials that require and verify a client certificate signed by the CA. With `admit`, each verified
// client certificate's identity (IdentityFromPem) is also put to it during the handshake (gRPC's TLS
// credentials with an external certificate verifier), so that a revoked party cannot open a connection at all. A
// certificate whose identity does not parse is left to PeerIdentityOf's refusal on every call.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files,
                                                                                PeerAdmission admit = nullptr);

// Channel credentials presenting the client certificate and verifying the server against the CA.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files);

// A channel with fedlog's defaults (keepalive, no message-size surprises; models travel in chunks).
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::shared_ptr<grpc::ChannelCredentials>& creds);

// The verified identity of the caller. Unauthenticated when the connection carries no verified certificate.
absl::StatusOr<PeerIdentity> PeerIdentityOf(const grpc::ServerContext& context);

// Status conversion at the RPC edge, keeping code and message.
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace fedlog::net

#endif  // FEDLOG_COMMON_NET_TLS_H_
