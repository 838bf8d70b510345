// CallGate: caps the calls one peer has in flight on the aggregator, so that one certificate cannot hold the
// server's thread pool (limits.max_server_threads) and starve the other sites and the admins. Every RPC of both
// services enters the gate first, keyed by the caller's certificate identity (CallGate::PeerKey of its role and
// id, never a request field); a call beyond the peer's cap is refused at once with RESOURCE_EXHAUSTED, before
// any other work. Long polls and streams keep their own caps (StreamRegistry) and count here too while open.
// Refusals are counted per peer; a warning is logged at most once per kLogInterval per peer, not per call.
// Thread-safe.
#ifndef FEDLOG_SERVER_CALL_GATE_H_
#define FEDLOG_SERVER_CALL_GATE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fedlog::server {

class CallGate {
 public:
  static constexpr absl::Duration kLogInterval = absl::Seconds(10);

  // One admitted call; destroying it (or moving from it and destroying the source) leaves the gate. Movable.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : gate_(other.gate_), peer_(std::move(other.peer_)) { other.gate_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { Release(); }

   private:
    friend class CallGate;
    Ticket(CallGate* gate, std::string peer) : gate_(gate), peer_(std::move(peer)) {}
    void Release();

    CallGate* gate_;
    std::string peer_;
  };

  // `max_per_peer` calls of one peer at once (at least 1).
  explicit CallGate(int32_t max_per_peer);
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

  // The gate's key of a certificate identity: "<role>:<id>" (e.g. "site:lab-1", "admin:ops").
  static std::string PeerKey(const std::string& role, const std::string& id) { return role + ":" + id; }

  // Admits one call of `peer` (PeerKey). ResourceExhausted, saying the cap, when `peer` already has
  // max_per_peer calls in flight. The gate must outlive the returned ticket.
  absl::StatusOr<Ticket> Enter(const std::string& peer);

  // Calls of `peer` in flight now, and its refusals so far; for tests and status.
  int32_t InFlight(const std::string& peer);
  int64_t Refused(const std::string& peer);
  int32_t max_per_peer() const { return max_per_peer_; }

 private:
  struct PeerState {
    int32_t in_flight = 0;
    int64_t refused = 0;
    int64_t logged_refused = 0;  // the count of the last warning
    absl::Time logged_at = absl::InfinitePast();
  };
  void Leave(const std::string& peer);

  const int32_t max_per_peer_;
  absl::Mutex mu_;
  // Only peers with a call in flight or a refusal have an entry. Keys are verified certificate identities, so
  // the map is bounded by the certificates the federation's CA issued.
  std::map<std::string, PeerState> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_CALL_GATE_H_
