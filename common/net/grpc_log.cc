#include "common/net/grpc_log.h"

#include <grpc/support/log.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"

namespace fedlog::net {
namespace {

// The hook is a plain function pointer, so its rate limiter is necessarily process-wide.
struct HandshakeLimiter {
  absl::Mutex mu;
  int64_t every_ms = 10000;
  int64_t last_ms ABSL_GUARDED_BY(mu) = 0;
  int64_t folded ABSL_GUARDED_BY(mu) = 0;
};

HandshakeLimiter& Limiter() {
  static HandshakeLimiter* limiter = new HandshakeLimiter();
  return *limiter;
}

void Hook(gpr_log_func_args* args) {
  const std::string message = args->message != nullptr ? args->message : "";
  if (std::string handshake = DescribeHandshakeFailure(message); !handshake.empty()) {
    HandshakeLimiter& l = Limiter();
    int64_t folded = 0;
    {
      absl::MutexLock lock(&l.mu);
      const int64_t now = absl::ToUnixMillis(absl::Now());
      if (l.last_ms != 0 && now - l.last_ms < l.every_ms) {
        ++l.folded;
        return;
      }
      l.last_ms = now;
      folded = l.folded;
      l.folded = 0;
    }
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

void QuietGrpcLogs() { gpr_set_log_function(QuietHook); }

void RouteGrpcLogs(int64_t handshake_every_ms) {
  {
    HandshakeLimiter& l = Limiter();
    absl::MutexLock lock(&l.mu);
    l.every_ms = handshake_every_ms;
  }
  gpr_set_log_function(Hook);
}

}  // namespace fedlog::net
