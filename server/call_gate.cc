#include "server/call_gate.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"

namespace fedlog::server {

CallGate::Ticket& CallGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = other.gate_;
    peer_ = std::move(other.peer_);
    other.gate_ = nullptr;
  }
  return *this;
}

void CallGate::Ticket::Release() {
  if (gate_ != nullptr) gate_->Leave(peer_);
  gate_ = nullptr;
}

CallGate::CallGate(int32_t max_per_peer) : max_per_peer_(max_per_peer < 1 ? 1 : max_per_peer) {}

absl::StatusOr<CallGate::Ticket> CallGate::Enter(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  PeerState& p = peers_[peer];
  if (p.in_flight < max_per_peer_) {
    ++p.in_flight;
    return Ticket(this, peer);
  }
  ++p.refused;
  const absl::Time now = absl::Now();
  if (now - p.logged_at >= kLogInterval) {
    FEDLOG_LOG(WARNING) << peer << ": " << p.refused - p.logged_refused << " call(s) refused for having "
                        << max_per_peer_ << " in flight already (limits.max_calls_per_peer; " << p.refused
                        << " in all)";
    p.logged_at = now;
    p.logged_refused = p.refused;
  }
  return absl::ResourceExhaustedError(absl::StrCat("at most ", max_per_peer_, " calls in flight per ",
                                                   "certificate (limits.max_calls_per_peer); try again when one ",
                                                   "has finished"));
}

void CallGate::Leave(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  if (--it->second.in_flight <= 0 && it->second.refused == 0) peers_.erase(it);
}

int32_t CallGate::InFlight(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.in_flight;
}

int64_t CallGate::Refused(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.refused;
}

}  // namespace fedlog::server
