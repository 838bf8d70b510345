// Sites, runs and rounds. Models, updates and promotions are in state_store_models.cc.
#include "server/state_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "server/state_schema.h"

namespace fedlog::server {
namespace {

std::string Blob(const google::protobuf::Message& m) { return m.SerializeAsString(); }

template <typename T>
T FromBlob(const SQLite::Column& c) {
  T m;
  m.ParseFromString(c.getString());
  return m;
}

SiteRecord ReadSite(SQLite::Statement& s) {
  SiteRecord r;
  r.site_id = s.getColumn(0).getString();
  r.registered_ms = s.getColumn(1).getInt64();
  r.last_seen_ms = s.getColumn(2).getInt64();
  r.revoked = s.getColumn(3).getInt() != 0;
  r.hello = FromBlob<v1::HelloRequest>(s.getColumn(4));
  auto split = [](const std::string& joined) {
    return joined.empty() ? std::vector<std::string>() : absl::StrSplit(joined, ',');
  };
  if (!s.getColumn(5).isNull()) r.admitted = split(s.getColumn(5).getString());
  r.pending = split(s.getColumn(6).getString());
  return r;
}

RunRecord ReadRun(SQLite::Statement& s) {
  RunRecord r;
  r.run_id = s.getColumn(0).getInt64();
  r.plan = FromBlob<v1::RunPlan>(s.getColumn(1));
  r.state = s.getColumn(2).getString();
  r.current_round = s.getColumn(3).getInt();
  r.global_version = s.getColumn(4).getInt64();
  r.started_ms = s.getColumn(5).getInt64();
  r.message = s.getColumn(6).getString();
  return r;
}

RoundRecord ReadRound(SQLite::Statement& s) {
  RoundRecord r;
  r.run_id = s.getColumn(0).getInt64();
  r.round = s.getColumn(1).getInt();
  r.attempt = s.getColumn(2).getInt();
  r.state = s.getColumn(3).getString();
  r.model_in = s.getColumn(4).getInt64();
  r.model_out = s.getColumn(5).getInt64();
  std::string p = s.getColumn(6).getString();
  if (!p.empty()) r.participants = absl::StrSplit(p, ',');
  r.opened_ms = s.getColumn(7).getInt64();
  r.deadline_ms = s.getColumn(8).getInt64();
  r.closed_ms = s.getColumn(9).getInt64();
  r.sites = s.getColumn(10).getInt();
  r.samples = s.getColumn(11).getInt64();
  r.mean_loss = s.getColumn(12).getDouble();
  r.bytes_up = s.getColumn(13).getInt64();
  r.bytes_down = s.getColumn(14).getInt64();
  r.dp_sampling_rate = s.getColumn(15).getDouble();
  r.epsilon = s.getColumn(16).getDouble();
  r.site_epsilon = s.getColumn(17).isNull() ? 0.0 : s.getColumn(17).getDouble();
  r.declined = s.getColumn(18).getInt();
  return r;
}

constexpr char kRunCols[] =
    "SELECT run_id, plan, state, current_round, global_version, started_ms, message FROM runs ";
constexpr char kRoundCols[] =
    "SELECT run_id, round, attempt, state, model_in, model_out, participants, opened_ms, deadline_ms, "
    "closed_ms, sites, samples, mean_loss, bytes_up, bytes_down, dp_q, epsilon, "
    "(SELECT MAX(u.dp_epsilon) FROM updates u WHERE u.run_id = rounds.run_id AND u.round = rounds.round AND "
    "u.attempt = rounds.attempt), "
    "(SELECT COUNT(*) FROM declines d WHERE d.run_id = rounds.run_id AND d.round = rounds.round AND "
    "d.attempt = rounds.attempt) FROM rounds ";

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& db_path) {
  FEDLOG_ASSIGN_OR_RETURN(auto db, store::Database::Open(db_path, AggregatorMigrations()));
  return std::unique_ptr<StateStore>(new StateStore(std::move(db)));
}

absl::Status StateStore::UpsertSiteHello(const std::string& site_id, const v1::HelloRequest& hello,
                                         int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO sites (site_id, registered_ms, last_seen_ms, hello) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(site_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, hello = excluded.hello",
      [&](SQLite::Statement& s) {
        std::string blob = Blob(hello);
        s.bind(1, site_id);
        s.bind(2, static_cast<int64_t>(now_ms));
        s.bind(3, static_cast<int64_t>(now_ms));
        s.bind(4, blob.data(), static_cast<int>(blob.size()));
        s.exec();
        return absl::OkStatus();
      });
}

absl::Status StateStore::TouchSite(const std::string& site_id, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement("UPDATE sites SET last_seen_ms = ? WHERE site_id = ?", [&](SQLite::Statement& s) {
    s.bind(1, static_cast<int64_t>(now_ms));
    s.bind(2, site_id);
    s.exec();
    return absl::OkStatus();
  });
}

absl::Status StateStore::SetRevoked(const std::string& site_id, bool revoked) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO sites (site_id, registered_ms, last_seen_ms, revoked) VALUES (?, 0, 0, ?) "
      "ON CONFLICT(site_id) DO UPDATE SET revoked = excluded.revoked",
      [&](SQLite::Statement& s) {
        s.bind(1, site_id);
        s.bind(2, revoked ? 1 : 0);
        s.exec();
        return absl::OkStatus();
      });
}

absl::Status StateStore::SetSources(const std::string& site_id,
                                    const std::optional<std::vector<std::string>>& admitted,
                                    const std::vector<std::string>& pending, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO sites (site_id, registered_ms, last_seen_ms, admitted, pending) VALUES (?, ?, 0, ?, ?) "
      "ON CONFLICT(site_id) DO UPDATE SET admitted = COALESCE(excluded.admitted, admitted), "
      "pending = excluded.pending",
      [&](SQLite::Statement& s) {
        s.bind(1, site_id);
        s.bind(2, static_cast<int64_t>(now_ms));
        if (admitted) {
          s.bind(3, absl::StrJoin(*admitted, ","));
        } else {
          s.bind(3);
        }
        s.bind(4, absl::StrJoin(pending, ","));
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<SiteRecord>> StateStore::ListSites() {
  absl::MutexLock lock(&mu_);
  std::vector<SiteRecord> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT site_id, registered_ms, last_seen_ms, revoked, hello, admitted, pending FROM sites ORDER BY site_id",
      [&](SQLite::Statement& s) {
        while (s.executeStep()) out.push_back(ReadSite(s));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<SiteRecord>> StateStore::GetSite(const std::string& site_id) {
  absl::MutexLock lock(&mu_);
  std::optional<SiteRecord> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT site_id, registered_ms, last_seen_ms, revoked, hello, admitted, pending FROM sites WHERE site_id = ?",
      [&](SQLite::Statement& s) {
        s.bind(1, site_id);
        if (s.executeStep()) out = ReadSite(s);
        return absl::OkStatus();
      }));
  return out;
}

absl::Status StateStore::ForgetSite(const std::string& site_id) {
  absl::MutexLock lock(&mu_);
  // What still names the site, checked inside the transaction that deletes it.
  static constexpr std::pair<const char*, const char*> kHolders[] = {
      {"updates", "update(s)"}, {"evaluations", "evaluation(s)"}, {"declines", "decline(s)"},
      {"refusals", "refusal(s)"}, {"refusal_overflow", "refusal count(s)"}};
  return db_->Transaction([&]() -> absl::Status {
    SQLite::Statement site(db_->raw(), "SELECT hello IS NOT NULL, last_seen_ms FROM sites WHERE site_id = ?");
    site.bind(1, site_id);
    if (!site.executeStep()) {
      return absl::NotFoundError(absl::StrCat("no site '", site_id, "' (fedlog sites lists them)"));
    }
    if (site.getColumn(0).getInt() != 0 || site.getColumn(1).getInt64() != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "site '", site_id, "' has connected to this aggregator; its entry stays (runs and rounds name it). "
          "`fedlog sites revoke ", site_id, "` shuts it out"));
    }
    for (const auto& [table, what] : kHolders) {
      SQLite::Statement count(db_->raw(), absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE site_id = ?"));
      count.bind(1, site_id);
      if (count.executeStep() && count.getColumn(0).getInt64() > 0) {
        return absl::FailedPreconditionError(absl::StrCat("site '", site_id, "' holds ", count.getColumn(0).getInt64(),
                                                          " ", what, "; its entry stays"));
      }
    }
    SQLite::Statement del(db_->raw(), "DELETE FROM sites WHERE site_id = ?");
    del.bind(1, site_id);
    del.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> StateStore::CreateRun(const v1::RunPlan& plan, int64_t global_version, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  int64_t id = 0;
  // One transaction: the new run and the end of the previous runs' secure-aggregation state.
  FEDLOG_RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    SQLite::Statement s(db_->raw(),
                        "INSERT INTO runs (plan, state, global_version, started_ms) VALUES (?, 'running', ?, ?)");
    std::string blob = Blob(plan);
    s.bind(1, blob.data(), static_cast<int>(blob.size()));
    s.bind(2, static_cast<int64_t>(global_version));
    s.bind(3, static_cast<int64_t>(now_ms));
    s.exec();
    id = db_->raw().getLastInsertRowid();
    db_->raw().exec("DELETE FROM secagg_state");
    db_->raw().exec("DELETE FROM secagg_verdicts");
    return absl::OkStatus();
  }));
  return id;
}

absl::StatusOr<std::optional<RunRecord>> StateStore::GetRun(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  std::optional<RunRecord> out;
  std::string sql = std::string(kRunCols) + (run_id > 0 ? "WHERE run_id = ?" : "ORDER BY run_id DESC LIMIT 1");
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(sql, [&](SQLite::Statement& s) {
    if (run_id > 0) s.bind(1, static_cast<int64_t>(run_id));
    if (s.executeStep()) out = ReadRun(s);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<RunRecord>> StateStore::ActiveRun() {
  absl::MutexLock lock(&mu_);
  std::optional<RunRecord> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      std::string(kRunCols) + "WHERE state = 'running' ORDER BY run_id DESC LIMIT 1", [&](SQLite::Statement& s) {
        if (s.executeStep()) out = ReadRun(s);
        return absl::OkStatus();
      }));
  return out;
}

absl::Status StateStore::EndRun(int64_t run_id, const std::string& state, const std::string& message,
                                int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->Transaction([&]() -> absl::Status {
    SQLite::Statement s(db_->raw(), "UPDATE runs SET state = ?, message = ?, ended_ms = ? WHERE run_id = ?");
    s.bind(1, state);
    s.bind(2, message);
    s.bind(3, static_cast<int64_t>(now_ms));
    s.bind(4, static_cast<int64_t>(run_id));
    s.exec();
    SQLite::Statement r(db_->raw(), "UPDATE rounds SET state = 'failed', closed_ms = ? "
                                    "WHERE run_id = ? AND state = 'open'");
    r.bind(1, static_cast<int64_t>(now_ms));
    r.bind(2, static_cast<int64_t>(run_id));
    r.exec();
    return absl::OkStatus();
  });
}

absl::Status StateStore::OpenRound(const RoundRecord& round) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT OR REPLACE INTO rounds (run_id, round, attempt, state, model_in, participants, opened_ms, "
      "deadline_ms, dp_q, epsilon) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(round.run_id));
        s.bind(2, round.round);
        s.bind(3, round.attempt);
        s.bind(4, static_cast<int64_t>(round.model_in));
        s.bind(5, absl::StrJoin(round.participants, ","));
        s.bind(6, static_cast<int64_t>(round.opened_ms));
        s.bind(7, static_cast<int64_t>(round.deadline_ms));
        s.bind(8, round.dp_sampling_rate);
        s.bind(9, round.epsilon);
        s.exec();
        return absl::OkStatus();
      });
}

absl::Status StateStore::FailRound(const RoundRecord& round, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "UPDATE rounds SET state = 'failed', closed_ms = ? WHERE run_id = ? AND round = ? AND attempt = ?",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(now_ms));
        s.bind(2, static_cast<int64_t>(round.run_id));
        s.bind(3, round.round);
        s.bind(4, round.attempt);
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<RoundRecord>> StateStore::ListRounds(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  std::vector<RoundRecord> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      std::string(kRoundCols) + "WHERE run_id = ? ORDER BY round, attempt", [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        while (s.executeStep()) out.push_back(ReadRound(s));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<RoundRecord>> StateStore::OpenRoundOf(int64_t run_id) {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<RoundRecord> rounds, ListRounds(run_id));
  for (auto& r : rounds) {
    if (r.state == "open") return std::optional<RoundRecord>(std::move(r));
  }
  return std::optional<RoundRecord>();
}

}  // namespace fedlog::server
