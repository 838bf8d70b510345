// Secure aggregation's run state across a restart (migration 9, docs/rules/s26-securestate.md): one row per run
// in secagg_state and at most kMaxSecAggVerdicts rows in secagg_verdicts, only the active run's kept.
#include <SQLiteCpp/SQLiteCpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "common/net/peer_id.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

std::set<std::string> SplitSites(const std::string& joined) {
  std::set<std::string> out;
  if (joined.empty()) return out;
  for (absl::string_view id : absl::StrSplit(joined, ',')) out.emplace(id);
  return out;
}

absl::Status CheckSites(const std::set<std::string>& sites, const char* what) {
  for (const std::string& id : sites) {
    if (!net::IsValidPeerId(id)) {
      return absl::InvalidArgumentError(absl::StrCat("secure-aggregation state: ", what, " holds an invalid site id"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckState(const SecAggRunState& state) {
  if (state.run_id < 1) return absl::InvalidArgumentError("secure-aggregation state without a run");
  if (state.verdicts.size() > StateStore::kMaxSecAggVerdicts) {
    return absl::InvalidArgumentError(absl::StrCat("secure-aggregation state: ", state.verdicts.size(),
                                                   " verdicts, more than ", StateStore::kMaxSecAggVerdicts));
  }
  FEDLOG_RETURN_IF_ERROR(CheckSites(state.excluded, "the exclusions"));
  if (!state.sit_out.empty()) FEDLOG_RETURN_IF_ERROR(CheckSites({state.sit_out}, "the sit-out"));
  for (const CohortVerdict& v : state.verdicts) {
    FEDLOG_RETURN_IF_ERROR(CheckSites(v.suspects, "a verdict's suspects"));
    FEDLOG_RETURN_IF_ERROR(CheckSites(v.cleared, "a verdict's cleared sites"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status StateStore::SaveSecAggState(const SecAggRunState& state, int64_t now_ms) {
  FEDLOG_RETURN_IF_ERROR(CheckState(state));
  absl::MutexLock lock(&mu_);
  return db_->Transaction([&]() -> absl::Status {
    SQLite::Statement others(db_->raw(), "DELETE FROM secagg_state WHERE run_id != ?");
    others.bind(1, static_cast<int64_t>(state.run_id));
    others.exec();
    db_->raw().exec("DELETE FROM secagg_verdicts");
    SQLite::Statement row(db_->raw(),
                          "INSERT OR REPLACE INTO secagg_state (run_id, cohort_mode, clean_attempts, excluded_round, "
                          "excluded, sit_out_round, sit_out, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    row.bind(1, static_cast<int64_t>(state.run_id));
    row.bind(2, state.cohort_mode ? 1 : 0);
    row.bind(3, state.clean_attempts);
    row.bind(4, state.excluded_round);
    row.bind(5, absl::StrJoin(state.excluded, ","));
    row.bind(6, state.sit_out_round);
    row.bind(7, state.sit_out);
    row.bind(8, static_cast<int64_t>(now_ms));
    row.exec();
    for (size_t i = 0; i < state.verdicts.size(); ++i) {
      SQLite::Statement v(db_->raw(),
                          "INSERT INTO secagg_verdicts (run_id, seq, suspects, cleared) VALUES (?, ?, ?, ?)");
      v.bind(1, static_cast<int64_t>(state.run_id));
      v.bind(2, static_cast<int64_t>(i));
      v.bind(3, absl::StrJoin(state.verdicts[i].suspects, ","));
      v.bind(4, absl::StrJoin(state.verdicts[i].cleared, ","));
      v.exec();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<SecAggRunState>> StateStore::LoadSecAggState(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  std::optional<SecAggRunState> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT cohort_mode, clean_attempts, excluded_round, excluded, sit_out_round, sit_out FROM secagg_state "
      "WHERE run_id = ?",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        if (!s.executeStep()) return absl::OkStatus();
        SecAggRunState st;
        st.run_id = run_id;
        st.cohort_mode = s.getColumn(0).getInt() != 0;
        st.clean_attempts = s.getColumn(1).getInt();
        st.excluded_round = s.getColumn(2).getInt();
        st.excluded = SplitSites(s.getColumn(3).getString());
        st.sit_out_round = s.getColumn(4).getInt();
        st.sit_out = s.getColumn(5).getString();
        out = std::move(st);
        return absl::OkStatus();
      }));
  if (!out) return out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT suspects, cleared FROM secagg_verdicts WHERE run_id = ? ORDER BY seq LIMIT ?",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        s.bind(2, static_cast<int64_t>(kMaxSecAggVerdicts));
        while (s.executeStep()) {
          out->verdicts.push_back({SplitSites(s.getColumn(0).getString()), SplitSites(s.getColumn(1).getString())});
        }
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace fedlog::server
