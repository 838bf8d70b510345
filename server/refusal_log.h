// RefusalLog: how the aggregator records what it refuses from a site (Coordinator::Refuse), bounded per site.
//
// The first kRowsPerSite refusals of a site in a run each get a row with their reason (StateStore::AddRefusal)
// and a log line. Past that the site's further refusals in the run are only counted: the count is kept in
// memory and written at most once per kPersistIntervalMs (StateStore::SetRefusalOverflow, with the latest
// reason), and one summary log line is written at most once per kLogIntervalMs. So a site that sends thousands
// of refused uploads a second grows neither the database nor the log beyond a fixed amount, and costs at most
// one write a second; `fedlog run status` still counts every refusal (Count adds what is not written yet). A
// crash loses at most the last interval's count. Only the active run's refusals are kept (as AddRefusal): those
// naming a run that is not running (a stale or made-up run id) are counted per site in memory and logged at most
// once per kLogIntervalMs, never written. Thread-safe.
#ifndef FEDLOG_SERVER_REFUSAL_LOG_H_
#define FEDLOG_SERVER_REFUSAL_LOG_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/state_store.h"

namespace fedlog::server {

class RefusalLog {
 public:
  static constexpr int64_t kRowsPerSite = 100;
  static constexpr int64_t kPersistIntervalMs = 1000;
  static constexpr int64_t kLogIntervalMs = 10000;

  explicit RefusalLog(StateStore* store) : store_(store) {}

  // Records one refusal of `site_id`'s message for run `run_id` (round `round`) at `now_ms`.
  void Record(const std::string& site_id, int64_t run_id, int32_t round, const std::string& reason, int64_t now_ms);
  // Every refusal recorded for run `run_id`: rows, counts written, and counts not written yet.
  absl::StatusOr<int64_t> Count(int64_t run_id);

 private:
  struct Tally {
    int64_t run_id = 0;
    int64_t rows = 0;              // rows of this site in the run (seeded from the store)
    int64_t overflow = 0;          // refusals past the rows (seeded from the store)
    int64_t written_overflow = 0;  // the overflow count last written
    int64_t written_ms = 0;
    int64_t logged_overflow = 0;   // the overflow count of the last summary line
    int64_t logged_ms = 0;
    std::string last_reason;
  };
  // Whether `run_id` is the running run (the store is asked when it is not the one last seen running).
  bool IsActive(int64_t run_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tally of `site_id` for the active run `run_id`, seeded from the store when the run changes (or on first
  // use); the previous run's count not written yet is written first.
  Tally& TallyOf(const std::string& site_id, int64_t run_id, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteOverflow(const std::string& site_id, Tally& t, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordStale(const std::string& site_id, int64_t run_id, const std::string& reason, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StateStore* const store_;
  absl::Mutex mu_;
  int64_t active_run_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Tally> tallies_ ABSL_GUARDED_BY(mu_);  // per enrolled site (identity from its certificate)
  std::map<std::string, Tally> stale_ ABSL_GUARDED_BY(mu_);    // per site: refusals naming a run not running
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_REFUSAL_LOG_H_
