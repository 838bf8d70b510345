#include "server/refusal_log.h"

#include "common/base/logging.h"
#include "common/base/status_macros.h"

namespace fedlog::server {

bool RefusalLog::IsActive(int64_t run_id) {
  if (run_id <= 0) return false;  // GetRun(0) would name the newest run
  if (run_id == active_run_) return true;
  auto run = store_->GetRun(run_id);
  if (!run.ok() || !*run || (*run)->state != "running") return false;
  active_run_ = run_id;
  return true;
}

RefusalLog::Tally& RefusalLog::TallyOf(const std::string& site_id, int64_t run_id, int64_t now_ms) {
  auto [it, fresh] = tallies_.try_emplace(site_id);
  Tally& t = it->second;
  if (!fresh && t.run_id == run_id) return t;
  if (!fresh) WriteOverflow(site_id, t, now_ms);
  t = Tally{};
  t.run_id = run_id;
  auto seeded = store_->SiteRefusals(site_id, run_id);
  if (seeded.ok()) {
    t.rows = seeded->rows;
    t.overflow = t.written_overflow = t.logged_overflow = seeded->overflow;
  } else {
    FEDLOG_LOG(ERROR) << "cannot read the refusals recorded for " << site_id << ": " << seeded.status();
  }
  return t;
}

void RefusalLog::WriteOverflow(const std::string& site_id, Tally& t, int64_t now_ms) {
  if (t.overflow == t.written_overflow) return;
  if (absl::Status st = store_->SetRefusalOverflow(site_id, t.run_id, t.overflow, t.last_reason, now_ms); !st.ok()) {
    FEDLOG_LOG(ERROR) << "cannot record refusals: " << st;
    return;
  }
  t.written_overflow = t.overflow;
  t.written_ms = now_ms;
}

void RefusalLog::Record(const std::string& site_id, int64_t run_id, int32_t round, const std::string& reason,
                        int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  if (!IsActive(run_id)) return RecordStale(site_id, run_id, reason, now_ms);
  Tally& t = TallyOf(site_id, run_id, now_ms);
  if (t.rows < kRowsPerSite) {
    FEDLOG_LOG(WARNING) << "refused update from " << site_id << " for run " << run_id << " round " << round << ": "
                        << reason;
    if (absl::Status st = store_->AddRefusal(site_id, run_id, round, reason, now_ms); !st.ok()) {
      FEDLOG_LOG(ERROR) << "cannot record refusal: " << st;
    }
    if (++t.rows == kRowsPerSite) {
      FEDLOG_LOG(WARNING) << site_id << ": " << kRowsPerSite << " refusals in run " << run_id
                          << "; further ones are counted, with a summary line at most every "
                          << kLogIntervalMs / 1000 << " s";
      t.logged_ms = now_ms;
    }
    return;
  }
  ++t.overflow;
  t.last_reason = reason.substr(0, StateStore::kMaxRefusalReason);
  if (now_ms - t.written_ms >= kPersistIntervalMs) WriteOverflow(site_id, t, now_ms);
  if (now_ms - t.logged_ms >= kLogIntervalMs) {
    FEDLOG_LOG(WARNING) << "refused " << t.overflow - t.logged_overflow << " more updates from " << site_id
                        << " for run " << run_id << " (" << kRowsPerSite + t.overflow
                        << " in the run); the latest, round " << round << ": " << reason;
    t.logged_overflow = t.overflow;
    t.logged_ms = now_ms;
  }
}

void RefusalLog::RecordStale(const std::string& site_id, int64_t run_id, const std::string& reason, int64_t now_ms) {
  Tally& t = stale_[site_id];
  ++t.overflow;
  if (t.logged_ms != 0 && now_ms - t.logged_ms < kLogIntervalMs) return;
  FEDLOG_LOG(WARNING) << "refused " << t.overflow - t.logged_overflow << " update(s) from " << site_id
                      << " naming a run that is not running (the latest: run " << run_id << ": " << reason << ")";
  t.logged_overflow = t.overflow;
  t.logged_ms = now_ms;
}

absl::StatusOr<int64_t> RefusalLog::Count(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  FEDLOG_ASSIGN_OR_RETURN(int64_t n, store_->CountRefusals(run_id));
  for (const auto& [site, t] : tallies_) {
    if (t.run_id == run_id) n += t.overflow - t.written_overflow;
  }
  return n;
}

}  // namespace fedlog::server
