#include "server/stream_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"

namespace fedlog::server {
namespace {

const char* KindName(StreamKind kind) {
  switch (kind) {
    case StreamKind::kUpload: return "upload";
    case StreamKind::kDownload: return "download";
    case StreamKind::kPoll: return "task poll";
  }
  return "stream";
}

}  // namespace

StreamRegistry::StreamRegistry(StreamLimits limits) : limits_(std::move(limits)) {
  watchdog_ = std::thread([this] { Watch(); });
}

StreamRegistry::~StreamRegistry() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  watchdog_.join();
}

absl::StatusOr<std::unique_ptr<StreamRegistry::Stream>> StreamRegistry::Open(const std::string& party,
                                                                             StreamKind kind,
                                                                             std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  int mine = 0, streams = 0;
  for (const auto& [id, e] : entries_) {
    if (e.kind != StreamKind::kPoll) ++streams;
    if (e.party == party && e.kind == kind) ++mine;
  }
  const int cap = kind == StreamKind::kUpload     ? limits_.max_uploads_per_party
                  : kind == StreamKind::kDownload ? limits_.max_downloads_per_party
                                                  : limits_.max_polls_per_party;
  if (mine >= cap) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", cap, " ", KindName(kind), "(s) at a time per site; ", mine, " open"));
  }
  if (kind != StreamKind::kPoll && streams >= limits_.max_streams) {
    return absl::ResourceExhaustedError(absl::StrCat("the aggregator has ", streams, " streams open; try later"));
  }
  const absl::Time now = absl::Now();
  Entry e;
  e.party = party;
  e.kind = kind;
  e.cancel = std::move(cancel);
  e.last_activity = now;
  e.deadline = kind == StreamKind::kUpload     ? now + limits_.upload_timeout
               : kind == StreamKind::kDownload ? now + limits_.download_timeout
                                               : absl::InfiniteFuture();
  const uint64_t id = next_id_++;
  entries_.emplace(id, std::move(e));
  return std::unique_ptr<Stream>(new Stream(this, id));
}

void StreamRegistry::CancelLocked(Entry* e, absl::Status why) {
  if (!e->ended.ok()) return;
  e->ended = std::move(why);
  if (e->cancel) e->cancel();
}

int StreamRegistry::CancelParty(const std::string& party, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (auto& [id, e] : entries_) {
    if (e.party != party || !e.ended.ok()) continue;
    CancelLocked(&e, absl::PermissionDeniedError(reason));
    ++n;
  }
  if (n > 0) {
    FEDLOG_LOG(WARNING) << "cancelled " << n << " open stream(s) of " << party << ": " << reason;
  }
  return n;
}

void StreamRegistry::Watch() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), limits_.watchdog_period);
    const absl::Time now = absl::Now();
    for (auto& [id, e] : entries_) {
      if (!e.ended.ok()) continue;
      if (now > e.deadline) {
        CancelLocked(&e, absl::DeadlineExceededError(absl::StrCat(KindName(e.kind), " stream passed its deadline")));
      } else if (e.kind != StreamKind::kPoll && now - e.last_activity > limits_.idle_timeout) {
        CancelLocked(&e, absl::DeadlineExceededError(absl::StrCat(KindName(e.kind), " stream idle for more than ",
                                                                  absl::FormatDuration(limits_.idle_timeout))));
      }
    }
  }
}

void StreamRegistry::Close(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  spooled_ -= it->second.spool_bytes;
  entries_.erase(it);
}

int StreamRegistry::OpenStreams(const std::string& party) {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& [id, e] : entries_) n += e.party == party ? 1 : 0;
  return n;
}

int64_t StreamRegistry::SpooledBytes(const std::string& party) {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [id, e] : entries_) n += e.party == party ? e.spool_bytes : 0;
  return n;
}

StreamRegistry::Stream::~Stream() { registry_->Close(id_); }

void StreamRegistry::Stream::Touch() {
  absl::MutexLock lock(&registry_->mu_);
  auto it = registry_->entries_.find(id_);
  if (it != registry_->entries_.end()) it->second.last_activity = absl::Now();
}

void StreamRegistry::Stream::LimitDeadline(absl::Time deadline) {
  absl::MutexLock lock(&registry_->mu_);
  auto it = registry_->entries_.find(id_);
  if (it != registry_->entries_.end() && deadline < it->second.deadline) it->second.deadline = deadline;
}

absl::Status StreamRegistry::Stream::ReserveSpool(int64_t bytes) {
  if (bytes < 0) return absl::InvalidArgumentError("negative spool reservation");
  absl::MutexLock lock(&registry_->mu_);
  auto it = registry_->entries_.find(id_);
  if (it == registry_->entries_.end()) return absl::InternalError("stream is not registered");
  Entry& me = it->second;
  int64_t party_bytes = 0;
  for (const auto& [id, e] : registry_->entries_) party_bytes += e.party == me.party ? e.spool_bytes : 0;
  const StreamLimits& l = registry_->limits_;
  if (party_bytes + bytes > l.max_spool_bytes_per_party) {
    return absl::ResourceExhaustedError(absl::StrCat("update of ", bytes, " bytes exceeds the site's spool quota (",
                                                     party_bytes, " of ", l.max_spool_bytes_per_party,
                                                     " bytes in flight)"));
  }
  if (registry_->spooled_ + bytes > l.max_spool_bytes) {
    return absl::ResourceExhaustedError("the aggregator's update spool is full; try later");
  }
  me.spool_bytes += bytes;
  registry_->spooled_ += bytes;
  return absl::OkStatus();
}

absl::Status StreamRegistry::Stream::status() {
  absl::MutexLock lock(&registry_->mu_);
  auto it = registry_->entries_.find(id_);
  return it == registry_->entries_.end() ? absl::InternalError("stream is not registered") : it->second.ended;
}

}  // namespace fedlog::server
