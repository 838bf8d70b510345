// Rounds sites declined under their own privacy policy (docs/PRIVACY.md), kept once per site and round. Per-round
// DP columns are read with the rounds (state_store.cc).
#include <SQLiteCpp/SQLiteCpp.h>

#include "common/base/status_macros.h"
#include "server/state_store.h"

namespace fedlog::server {

absl::StatusOr<bool> StateStore::AddDecline(const std::string& site_id, const RoundRecord& round,
                                            const std::string& reason, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  bool added = false;
  // One transaction: the insert and the count of rows it changed belong together (the unique index of
  // migration 5 makes a second decline of the same site and round a no-op).
  FEDLOG_RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    SQLite::Statement s(db_->raw(),
                        "INSERT INTO declines (site_id, run_id, round, attempt, reason, at_ms) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, round, site_id) DO NOTHING");
    s.bind(1, site_id);
    s.bind(2, static_cast<int64_t>(round.run_id));
    s.bind(3, round.round);
    s.bind(4, round.attempt);
    s.bind(5, reason.substr(0, kMaxRefusalReason));
    s.bind(6, static_cast<int64_t>(now_ms));
    added = s.exec() == 1;
    return absl::OkStatus();
  }));
  return added;
}

absl::StatusOr<std::set<std::string>> StateStore::DeclinedSites(int64_t run_id, int32_t round) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT site_id FROM declines WHERE run_id = ? AND round = ?", [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        s.bind(2, round);
        while (s.executeStep()) out.insert(s.getColumn(0).getString());
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<v1::SiteDeclines>> StateStore::ListDeclines(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::SiteDeclines> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT site_id, COUNT(*), (SELECT reason FROM declines l WHERE l.run_id = d.run_id AND "
      "l.site_id = d.site_id ORDER BY l.id DESC LIMIT 1) FROM declines d WHERE run_id = ? GROUP BY site_id "
      "ORDER BY site_id",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        while (s.executeStep()) {
          v1::SiteDeclines d;
          d.set_site_id(s.getColumn(0).getString());
          d.set_count(s.getColumn(1).getInt64());
          d.set_last_reason(s.getColumn(2).getString());
          out.push_back(std::move(d));
        }
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace fedlog::server
