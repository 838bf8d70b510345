// Round completion, updates, refusals, model versions and promotions.
#include <SQLiteCpp/SQLiteCpp.h>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

void InsertModel(SQLite::Database& db, const v1::ModelManifest& m, const std::string& path) {
  SQLite::Statement s(db, "INSERT INTO models (version, manifest, path, created_ms) VALUES (?, ?, ?, ?)");
  std::string blob = m.SerializeAsString();
  s.bind(1, static_cast<int64_t>(m.version()));
  s.bind(2, blob.data(), static_cast<int>(blob.size()));
  s.bind(3, path);
  s.bind(4, static_cast<int64_t>(m.created_ms()));
  s.exec();
}

// A stored manifest with the row's deletion time (model retention).
v1::ModelManifest ManifestOf(SQLite::Statement& s, int manifest_column, int deleted_column) {
  v1::ModelManifest m;
  m.ParseFromString(s.getColumn(manifest_column).getString());
  m.set_deleted_ms(s.getColumn(deleted_column).getInt64());
  return m;
}

}  // namespace

absl::Status DeletedModelError(int64_t version) {
  return absl::FailedPreconditionError(
      absl::StrCat("model v", version, " was deleted past the aggregator's retention (keep_model_versions: the newest "
                   "versions, the promoted ones and the active run's are kept)"));
}

absl::Status StateStore::CompleteRound(const RoundRecord& round, const v1::ModelManifest& model,
                                       const std::string& path) {
  absl::MutexLock lock(&mu_);
  return db_->Transaction([&]() -> absl::Status {
    InsertModel(db_->raw(), model, path);
    SQLite::Statement r(db_->raw(),
                        "UPDATE rounds SET state = 'done', model_out = ?, closed_ms = ?, sites = ?, samples = ?, "
                        "mean_loss = ?, bytes_up = ?, bytes_down = ? WHERE run_id = ? AND round = ? AND attempt = ?");
    r.bind(1, static_cast<int64_t>(model.version()));
    r.bind(2, static_cast<int64_t>(round.closed_ms));
    r.bind(3, round.sites);
    r.bind(4, static_cast<int64_t>(round.samples));
    r.bind(5, round.mean_loss);
    r.bind(6, static_cast<int64_t>(round.bytes_up));
    r.bind(7, static_cast<int64_t>(round.bytes_down));
    r.bind(8, static_cast<int64_t>(round.run_id));
    r.bind(9, round.round);
    r.bind(10, round.attempt);
    r.exec();
    SQLite::Statement u(db_->raw(), "UPDATE runs SET current_round = ?, global_version = ? WHERE run_id = ?");
    u.bind(1, round.round);
    u.bind(2, static_cast<int64_t>(model.version()));
    u.bind(3, static_cast<int64_t>(round.run_id));
    u.exec();
    return absl::OkStatus();
  });
}

absl::Status StateStore::AddUpdate(const RoundRecord& round, const UpdateRecord& update) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO updates (run_id, round, attempt, site_id, num_samples, train_loss, path, sha256, received_ms, "
      "distinct_templates, imbalance, size_bytes, dp_epsilon, part_norms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(round.run_id));
        s.bind(2, round.round);
        s.bind(3, round.attempt);
        s.bind(4, update.site_id);
        s.bind(5, static_cast<int64_t>(update.num_samples));
        s.bind(6, update.train_loss);
        s.bind(7, update.path);
        s.bind(8, update.sha256);
        s.bind(9, static_cast<int64_t>(update.received_ms));
        s.bind(10, static_cast<int64_t>(update.distinct_templates));
        s.bind(11, update.imbalance);
        s.bind(12, static_cast<int64_t>(update.size_bytes));
        s.bind(13, update.dp_epsilon);
        if (update.part_norms.empty()) {
          s.bind(14);  // NULL: not computed
        } else {
          s.bind(14, update.part_norms);
        }
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<UpdateRecord>> StateStore::ListUpdates(int64_t run_id, int32_t round,
                                                                  int32_t attempt) {
  absl::MutexLock lock(&mu_);
  std::vector<UpdateRecord> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT site_id, num_samples, train_loss, path, sha256, received_ms, distinct_templates, imbalance, "
      "size_bytes, part_norms FROM updates "
      "WHERE run_id = ? AND round = ? AND attempt = ? ORDER BY site_id",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        s.bind(2, round);
        s.bind(3, attempt);
        while (s.executeStep()) {
          UpdateRecord u;
          u.site_id = s.getColumn(0).getString();
          u.num_samples = s.getColumn(1).getInt64();
          u.train_loss = s.getColumn(2).getDouble();
          u.path = s.getColumn(3).getString();
          u.sha256 = s.getColumn(4).getString();
          u.received_ms = s.getColumn(5).getInt64();
          u.distinct_templates = s.getColumn(6).getInt64();
          u.imbalance = s.getColumn(7).getDouble();
          u.size_bytes = s.getColumn(8).getInt64();
          if (!s.getColumn(9).isNull()) u.part_norms = s.getColumn(9).getString();
          out.push_back(std::move(u));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::Status StateStore::AddRefusal(const std::string& site_id, int64_t run_id, int32_t round,
                                    const std::string& reason, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO refusals (site_id, run_id, round, reason, at_ms) SELECT ?, ?, ?, ?, ? "
      "WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = ? AND state = 'running')",
      [&](SQLite::Statement& s) {
        s.bind(1, site_id);
        s.bind(2, static_cast<int64_t>(run_id));
        s.bind(3, round);
        s.bind(4, reason.substr(0, kMaxRefusalReason));
        s.bind(5, static_cast<int64_t>(now_ms));
        s.bind(6, static_cast<int64_t>(run_id));
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<int64_t> StateStore::CountRefusals(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT (SELECT COUNT(*) FROM refusals WHERE run_id = ?1) + "
      "(SELECT COALESCE(SUM(count), 0) FROM refusal_overflow WHERE run_id = ?1)",
      [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        if (s.executeStep()) n = s.getColumn(0).getInt64();
        return absl::OkStatus();
      }));
  return n;
}

absl::Status StateStore::SetRefusalOverflow(const std::string& site_id, int64_t run_id, int64_t count,
                                            const std::string& last_reason, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO refusal_overflow (site_id, run_id, count, last_reason, last_ms) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (site_id, run_id) DO UPDATE SET count = excluded.count, last_reason = excluded.last_reason, "
      "last_ms = excluded.last_ms",
      [&](SQLite::Statement& s) {
        s.bind(1, site_id);
        s.bind(2, static_cast<int64_t>(run_id));
        s.bind(3, static_cast<int64_t>(count));
        s.bind(4, last_reason.substr(0, kMaxRefusalReason));
        s.bind(5, static_cast<int64_t>(now_ms));
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<StateStore::SiteRefusalCounts> StateStore::SiteRefusals(const std::string& site_id, int64_t run_id) {
  absl::MutexLock lock(&mu_);
  SiteRefusalCounts out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT (SELECT COUNT(*) FROM refusals WHERE site_id = ?1 AND run_id = ?2), "
      "(SELECT COALESCE(SUM(count), 0) FROM refusal_overflow WHERE site_id = ?1 AND run_id = ?2)",
      [&](SQLite::Statement& s) {
        s.bind(1, site_id);
        s.bind(2, static_cast<int64_t>(run_id));
        if (s.executeStep()) {
          out.rows = s.getColumn(0).getInt64();
          out.overflow = s.getColumn(1).getInt64();
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::Status StateStore::AddEvaluation(int64_t run_id, int32_t round, const v1::SiteEvaluation& evaluation,
                                       int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT OR REPLACE INTO evaluations (run_id, round, site_id, model_version, num_samples, metrics, at_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      [&](SQLite::Statement& s) {
        std::string blob = evaluation.SerializeAsString();
        s.bind(1, static_cast<int64_t>(run_id));
        s.bind(2, round);
        s.bind(3, evaluation.site_id());
        s.bind(4, static_cast<int64_t>(evaluation.model_version()));
        s.bind(5, static_cast<int64_t>(evaluation.num_samples()));
        s.bind(6, blob.data(), static_cast<int>(blob.size()));
        s.bind(7, static_cast<int64_t>(now_ms));
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<std::pair<int32_t, v1::SiteEvaluation>>> StateStore::ListEvaluations(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int32_t, v1::SiteEvaluation>> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT round, metrics FROM evaluations WHERE run_id = ? ORDER BY round, site_id", [&](SQLite::Statement& s) {
        s.bind(1, static_cast<int64_t>(run_id));
        while (s.executeStep()) {
          v1::SiteEvaluation e;
          e.ParseFromString(s.getColumn(1).getString());
          out.emplace_back(s.getColumn(0).getInt(), std::move(e));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::Status StateStore::AddModel(const v1::ModelManifest& manifest, const std::string& path) {
  absl::MutexLock lock(&mu_);
  return db_->Transaction([&]() -> absl::Status {
    InsertModel(db_->raw(), manifest, path);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<std::pair<v1::ModelManifest, std::string>>> StateStore::GetModel(int64_t version) {
  absl::MutexLock lock(&mu_);
  std::optional<std::pair<v1::ModelManifest, std::string>> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement("SELECT manifest, path, deleted_ms FROM models WHERE version = ?",
                                            [&](SQLite::Statement& s) {
                                              s.bind(1, static_cast<int64_t>(version));
                                              if (s.executeStep()) {
                                                v1::ModelManifest m = ManifestOf(s, 0, 2);
                                                out.emplace(std::move(m), s.getColumn(1).getString());
                                              }
                                              return absl::OkStatus();
                                            }));
  return out;
}

absl::StatusOr<std::vector<v1::ModelManifest>> StateStore::ListModels() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ModelManifest> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement("SELECT manifest, deleted_ms FROM models ORDER BY version",
                                            [&](SQLite::Statement& s) {
                                              while (s.executeStep()) out.push_back(ManifestOf(s, 0, 1));
                                              return absl::OkStatus();
                                            }));
  return out;
}

absl::StatusOr<int64_t> StateStore::MaxModelVersion() {
  absl::MutexLock lock(&mu_);
  int64_t v = 0;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement("SELECT COALESCE(MAX(version), 0) FROM models",
                                            [&](SQLite::Statement& s) {
                                              if (s.executeStep()) v = s.getColumn(0).getInt64();
                                              return absl::OkStatus();
                                            }));
  return v;
}

absl::Status StateStore::Promote(int64_t version, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->Transaction([&]() -> absl::Status {
    SQLite::Statement check(db_->raw(), "SELECT deleted_ms FROM models WHERE version = ?");
    check.bind(1, static_cast<int64_t>(version));
    if (!check.executeStep()) return absl::NotFoundError(absl::StrCat("no model version ", version));
    if (check.getColumn(0).getInt64() > 0) return DeletedModelError(version);
    SQLite::Statement s(db_->raw(), "INSERT INTO promotions (version, at_ms) VALUES (?, ?)");
    s.bind(1, static_cast<int64_t>(version));
    s.bind(2, static_cast<int64_t>(now_ms));
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> StateStore::PromotedVersion() {
  absl::MutexLock lock(&mu_);
  int64_t v = 0;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT version FROM promotions WHERE rolled_back = 0 ORDER BY id DESC LIMIT 1", [&](SQLite::Statement& s) {
        if (s.executeStep()) v = s.getColumn(0).getInt64();
        return absl::OkStatus();
      }));
  return v;
}

absl::StatusOr<int64_t> StateStore::Rollback() {
  absl::MutexLock lock(&mu_);
  int64_t now_promoted = 0;
  FEDLOG_RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    SQLite::Statement s(db_->raw(), "SELECT id FROM promotions WHERE rolled_back = 0 ORDER BY id DESC LIMIT 2");
    std::vector<int64_t> ids;
    while (s.executeStep()) ids.push_back(s.getColumn(0).getInt64());
    if (ids.size() < 2) return absl::FailedPreconditionError("no earlier promoted version to roll back to");
    SQLite::Statement u(db_->raw(), "UPDATE promotions SET rolled_back = 1 WHERE id = ?");
    u.bind(1, static_cast<int64_t>(ids[0]));
    u.exec();
    SQLite::Statement v(db_->raw(), "SELECT version FROM promotions WHERE id = ?");
    v.bind(1, static_cast<int64_t>(ids[1]));
    if (v.executeStep()) now_promoted = v.getColumn(0).getInt64();
    return absl::OkStatus();
  }));
  return now_promoted;
}

}  // namespace fedlog::server
