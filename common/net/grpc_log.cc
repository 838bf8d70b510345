#include "common/net/grpc_log.h"

#include <grpc/support/log.h>

#include <atomic>

#include "google/protobuf/stubs/logging.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"

namespace fedlog::net {
namespace {

// The hooks are plain function pointers, so their rate limiters are necessarily process-wide.
struct RateLimiter {
  absl::Mutex mu;
  int64_t every_ms = 10000;
  int64_t last_ms ABSL_GUARDED_BY(mu) = 0;
  int64_t folded ABSL_GUARDED_BY(mu) = 0;
  // True when a line may be written now; `folded` then receives how many were held back since the last one.
  bool Take(int64_t* folded_out) {
    absl::MutexLock lock(&mu);
    const int64_t now = absl::ToUnixMillis(absl::Now());
    if (last_ms != 0 && now - last_ms < every_ms) {
      ++folded;
      return false;
    }
    last_ms = now;
    *folded_out = folded;
    folded = 0;
    return true;
  }
};

RateLimiter& Limiter() {
  static RateLimiter* limiter = new RateLimiter();
  return *limiter;
}

// Protobuf's own records: a peer's message whose string field is not UTF-8 makes protobuf log an ERROR at
// every parse (before the call is refused), so a peer could flood the log with them.
RateLimiter& ProtobufLimiter() {
  static RateLimiter* limiter = new RateLimiter();
  return *limiter;
}

void ProtobufHook(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) {  // protobuf aborts after it
    FEDLOG_LOG(ERROR) << "protobuf: " << file << ":" << line << ": " << message;
    return;
  }
  int64_t folded = 0;
  if (!ProtobufLimiter().Take(&folded)) return;
  FEDLOG_LOG(WARNING) << "protobuf: " << message
                      << (folded > 0 ? absl::StrCat(" (and ", folded, " more protobuf records since the last such line)")
                                     : std::string());
}

void QuietProtobufHook(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    FEDLOG_LOG(ERROR) << "protobuf: " << file << ":" << line << ": " << message;
    return;
  }
  FEDLOG_LOG(DEBUG) << "protobuf: " << message;
}

std::atomic<int64_t> g_accept_failures{0};

void Hook(gpr_log_func_args* args) {
  const std::string message = args->message != nullptr ? args->message : "";
  if (absl::StartsWith(message, "Failed accept4")) {
    // gRPC 1.51's listener stops accepting for good after this (its issues 16058 and 20418): the server's
    // watchdog restarts it (server/aggregator_server.cc).
    g_accept_failures.fetch_add(1);
    FEDLOG_LOG(ERROR) << "grpc: " << message << ": the listener stopped accepting connections";
    return;
  }
  if (std::string handshake = DescribeHandshakeFailure(message); !handshake.empty()) {
    int64_t folded = 0;
    if (!Limiter().Take(&folded)) return;
    FEDLOG_LOG(WARNING) << handshake
                        << (folded > 0 ? absl::StrCat(" (and ", folded, " more refused since the last such line)")
                                       : std::string());
    return;
  }
  // A failed bind is explained by AggregatorServer::Start in one line ("address already in use"); gRPC's own
  // record of it is a nested dump.
  const bool explained = absl::StrContains(message, "No address added out of total");
  switch (explained ? GPR_LOG_SEVERITY_DEBUG : args->severity) {
    case GPR_LOG_SEVERITY_ERROR:
      FEDLOG_LOG(ERROR) << "grpc: " << message;
      break;
    case GPR_LOG_SEVERITY_INFO:
      FEDLOG_LOG(INFO) << "grpc: " << message;
      break;
    default:
      FEDLOG_LOG(DEBUG) << "grpc: " << message;
  }
}

void QuietHook(gpr_log_func_args* args) {
  FEDLOG_LOG(DEBUG) << "grpc: " << (args->message != nullptr ? args->message : "");
}

}  // namespace

std::string DescribeHandshakeFailure(const std::string& message) {
  if (!absl::StartsWith(message, "Handshake failed with fatal error")) return "";
  std::string reason = message;
  // "...: error:1417C086:SSL routines:tls_process_client_certificate:certificate verify failed." -> the tail.
  if (size_t colon = reason.rfind(':'); colon != std::string::npos && colon + 1 < reason.size()) {
    reason = reason.substr(colon + 1);
  }
  while (!reason.empty() && (reason.back() == '.' || reason.back() == ' ')) reason.pop_back();
  while (!reason.empty() && reason.front() == ' ') reason.erase(0, 1);
  std::string hint;
  if (absl::StrContains(reason, "certificate verify failed")) {
    hint = ": the peer's certificate is not signed by the CA in tls.ca_cert (or has expired)";
  } else if (absl::StrContains(reason, "unknown ca")) {
    hint = ": the peer does not trust this side's certificate (its CA differs from ours)";
  } else if (absl::StrContains(reason, "peer did not return a certificate") ||
             absl::StrContains(reason, "certificate required")) {
    hint = ": the peer presented no client certificate";
  }
  return absl::StrCat("refused a TLS handshake: ", reason, hint,
                      " (gRPC 1.51 does not report the peer's address)");
}

int64_t ListenerAcceptFailures() { return g_accept_failures.load(); }

void QuietGrpcLogs() {
  gpr_set_log_function(QuietHook);
  google::protobuf::SetLogHandler(&QuietProtobufHook);
}

void RouteGrpcLogs(int64_t handshake_every_ms) {
  {
    RateLimiter& l = Limiter();
    absl::MutexLock lock(&l.mu);
    l.every_ms = handshake_every_ms;
  }
  gpr_set_log_function(Hook);
  google::protobuf::SetLogHandler(&ProtobufHook);
}

}  // namespace fedlog::net
