// StreamRegistry: every long-lived federation call (upload and download streams, GetTask long polls) is
// registered here under the party that made it, so that one party cannot hold more than its share of the
// aggregator: per-party and global caps on open streams, a per-site and a global quota of upload bytes in flight
// (spooled to disk), an idle timeout (no chunk read or written) and a total deadline per stream, and revocation
// that reaches live streams. A watchdog thread ends streams that go idle or pass their deadline by calling the
// cancel function given at Open (gRPC: ServerContext::TryCancel, which also fails a Read or Write blocked on a
// peer that stopped reading); CancelParty does the same at once for a revoked site.
// The registry knows nothing of gRPC: a stream is a party key, a kind, a deadline and a cancel function.
// Thread-safe. Cancel functions run with the registry's lock held: they must not call back into the registry.
#ifndef FEDLOG_SERVER_STREAM_REGISTRY_H_
#define FEDLOG_SERVER_STREAM_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fedlog::server {

struct StreamLimits {
  int32_t max_uploads_per_party = 1;
  int32_t max_downloads_per_party = 2;
  int32_t max_polls_per_party = 2;
  int32_t max_streams = 64;                      // uploads + downloads, all parties
  absl::Duration idle_timeout = absl::Seconds(30);
  absl::Duration download_timeout = absl::Minutes(30);
  absl::Duration upload_timeout = absl::Minutes(30);
  int64_t max_spool_bytes_per_party = int64_t{1} << 30;
  int64_t max_spool_bytes = int64_t{8} << 30;
  absl::Duration watchdog_period = absl::Milliseconds(100);
};

enum class StreamKind { kUpload, kDownload, kPoll };

// The registry key of a site's streams (admins use "admin:<id>"), so a site id never names an admin's streams.
inline std::string SiteParty(const std::string& site_id) { return "site:" + site_id; }

class StreamRegistry {
 public:
  class Stream;

  explicit StreamRegistry(StreamLimits limits);
  ~StreamRegistry();  // stops the watchdog; every Stream must be gone by then
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;

  // Registers a stream of `party` (e.g. "site:<id>"). ResourceExhausted when the party already holds its share
  // of this kind or the global cap is reached. `cancel` is called at most once, when the stream idles (polls
  // never idle out), passes its deadline (the kind's timeout from now) or its party is cancelled; never after
  // the returned Stream is destroyed.
  absl::StatusOr<std::unique_ptr<Stream>> Open(const std::string& party, StreamKind kind,
                                               std::function<void()> cancel);

  // Cancels every open stream of `party` (revocation); returns how many.
  int CancelParty(const std::string& party, const std::string& reason);

  // Counts of open streams, for tests and status.
  int OpenStreams(const std::string& party);
  int64_t SpooledBytes(const std::string& party);

  const StreamLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::string party;
    StreamKind kind;
    std::function<void()> cancel;
    absl::Time last_activity;
    absl::Time deadline;
    int64_t spool_bytes = 0;
    absl::Status ended;  // why the registry cancelled it; OK while it runs
  };

  void Watch();
  void CancelLocked(Entry* e, absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Close(uint64_t id);

  const StreamLimits limits_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t spooled_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watchdog_;
};

// One registered stream; destroying it unregisters it (and releases its spool reservation).
class StreamRegistry::Stream {
 public:
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Marks progress (a chunk read or written): restarts the idle timer.
  void Touch();
  // Brings the stream's deadline forward to `deadline` (e.g. its round's deadline) if that is earlier.
  void LimitDeadline(absl::Time deadline);
  // Reserves `bytes` of spool for an upload against the party's and the global quota (ResourceExhausted).
  absl::Status ReserveSpool(int64_t bytes);
  // OK while the stream may go on; otherwise why the registry ended it (PermissionDenied when its party was
  // revoked, DeadlineExceeded on idle or total timeout).
  absl::Status status();

 private:
  friend class StreamRegistry;
  Stream(StreamRegistry* registry, uint64_t id) : registry_(registry), id_(id) {}

  StreamRegistry* const registry_;
  const uint64_t id_;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_STREAM_REGISTRY_H_
