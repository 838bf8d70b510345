// Routes gRPC core's own log records (which bypass fedlog's logging and used to reach stderr as raw "E1205 ..."
// lines, or not at all) into FEDLOG_LOG, and turns the server side's failed TLS handshakes into one readable,
// rate-limited line: "refused a TLS handshake: <reason>". gRPC 1.51 reports no peer address for a failed
// handshake (the record is written inside its TLS layer, which does not know the socket), so the line carries
// the reason only; the client's own log names the address it dialled. Protobuf's own records (an ERROR at every
// parse of a message whose string field is not UTF-8, which a peer can send at will) go to FEDLOG_LOG too: on a
// server at most one line per 10 s with a count of the others, on a client at debug level. A listener's failed
// accept is counted (ListenerAcceptFailures) for the server's watchdog.
// Thread-safe: gRPC calls the hook from its threads; the rate limiter has its own mutex. Install once, from main.
#ifndef FEDLOG_COMMON_NET_GRPC_LOG_H_
#define FEDLOG_COMMON_NET_GRPC_LOG_H_

#include <cstdint>
#include <string>

namespace fedlog::net {

// Installs the hooks (process-wide; gRPC's log function and protobuf's log handler are globals). At most one
// handshake line per `handshake_every_ms`, and one protobuf line per 10 s; the next one says how many were folded
// into it. For a server.
void RouteGrpcLogs(int64_t handshake_every_ms = 10000);

// For clients (the site daemon, the CLI), which report their own call failures in one sentence: gRPC's records
// and protobuf's non-fatal ones go to FEDLOG_LOG(DEBUG) only (FEDLOG_LOG_LEVEL=debug shows them).
void QuietGrpcLogs();

// How many times a listener failed to accept a connection ("Failed accept4", e.g. out of file descriptors)
// since RouteGrpcLogs was installed. gRPC 1.51 never accepts on that listener again, so a server that sees this
// grow must rebuild its listener (AggregatorServer's watchdog does).
int64_t ListenerAcceptFailures();

// The readable form of a gRPC handshake record ("Handshake failed with fatal error SSL_ERROR_SSL: error:...:
// certificate verify failed."), or "" when `message` is not one. Exposed for tests.
std::string DescribeHandshakeFailure(const std::string& message);

}  // namespace fedlog::net

#endif  // FEDLOG_COMMON_NET_GRPC_LOG_H_
