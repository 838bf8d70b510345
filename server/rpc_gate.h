// The gRPC side of CallGate (server/call_gate.h): admits a call under its caller's verified certificate
// identity (net::PeerIdentityOf, role and id), never under a request field. Used by both services' handlers.
#ifndef FEDLOG_SERVER_RPC_GATE_H_
#define FEDLOG_SERVER_RPC_GATE_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/base/status_macros.h"
#include "common/net/tls.h"
#include "server/call_gate.h"

namespace fedlog::server {

// An admitted call: its ticket of the gate and the caller's identity, read once from its certificate for the
// handler's own checks (role, site id).
struct GatedCall {
  CallGate::Ticket ticket;
  net::PeerIdentity peer;
};

// A ticket of `gate` for the caller of `ctx`; Unauthenticated without a verified certificate, ResourceExhausted
// when the caller has its cap of calls in flight. The result must live as long as the handler's work.
inline absl::StatusOr<GatedCall> EnterCall(CallGate* gate, const grpc::ServerContext& ctx) {
  FEDLOG_ASSIGN_OR_RETURN(net::PeerIdentity id, net::PeerIdentityOf(ctx));
  FEDLOG_ASSIGN_OR_RETURN(CallGate::Ticket ticket, gate->Enter(CallGate::PeerKey(id.role, id.id)));
  return GatedCall{std::move(ticket), std::move(id)};
}

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_RPC_GATE_H_
