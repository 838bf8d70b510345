#include "client/detect/detect_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::client::detect {
namespace {

const std::vector<store::Migration>& Migrations() {
  static const auto* m = new std::vector<store::Migration>{
      {1,
       "CREATE TABLE offsets (source TEXT NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL, "
       "  path TEXT NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (source, dev, ino));"
       "CREATE TABLE drain_state (source TEXT PRIMARY KEY, state TEXT NOT NULL);"
       "CREATE TABLE template_counts (source TEXT NOT NULL, template_id INTEGER NOT NULL, "
       "  count INTEGER NOT NULL, PRIMARY KEY (source, template_id));"
       "CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER, source TEXT, "
       "  template_id INTEGER, score REAL, model_version INTEGER);"
       "CREATE TABLE alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
       "  time_ms INTEGER, source TEXT, line TEXT, template_id INTEGER, score REAL, threshold "
       "REAL, "
       "  model_version INTEGER, tokens BLOB, dense BLOB, json TEXT);"
       "CREATE TABLE feedback (alert_id TEXT PRIMARY KEY, verdict TEXT NOT NULL, time_ms INTEGER);"
       "CREATE TABLE labels (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, line TEXT, "
       "  label INTEGER, tokens BLOB, dense BLOB, origin TEXT UNIQUE, time_ms INTEGER);"}};
  return *m;
}

template <typename T>
void BindVector(SQLite::Statement& s, int index, const std::vector<T>& v) {
  s.bind(index, v.data(), static_cast<int>(v.size() * sizeof(T)));
}

template <typename T>
std::vector<T> ColumnVector(const SQLite::Column& c) {
  std::vector<T> v(static_cast<size_t>(c.getBytes()) / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), c.getBlob(), v.size() * sizeof(T));
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DetectStore>> DetectStore::Open(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(auto db, store::Database::Open(path, Migrations()));
  return std::unique_ptr<DetectStore>(new DetectStore(std::move(db)));
}

absl::StatusOr<std::vector<FileOffset>> DetectStore::LoadOffsets() {
  absl::MutexLock lock(&mu_);
  std::vector<FileOffset> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT source, dev, ino, path, offset FROM offsets", [&](SQLite::Statement& s) {
        while (s.executeStep()) {
          out.push_back({s.getColumn(0).getString(),
                         static_cast<uint64_t>(s.getColumn(1).getInt64()),
                         static_cast<uint64_t>(s.getColumn(2).getInt64()),
                         s.getColumn(3).getString(), s.getColumn(4).getInt64()});
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::Status DetectStore::UpsertOffsets(const std::vector<FileOffset>& offsets) {
  if (offsets.empty()) return absl::OkStatus();
  return db_->WithStatement(
      "INSERT INTO offsets (source, dev, ino, path, offset) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT(source, dev, ino) DO UPDATE SET path = excluded.path, offset = excluded.offset",
      [&](SQLite::Statement& s) {
        for (const FileOffset& f : offsets) {
          s.bind(1, f.source);
          s.bind(2, static_cast<int64_t>(f.dev));
          s.bind(3, static_cast<int64_t>(f.ino));
          s.bind(4, f.path);
          s.bind(5, static_cast<int64_t>(f.offset));
          s.exec();
          s.reset();
        }
        return absl::OkStatus();
      });
}

absl::Status DetectStore::InsertScores(const std::vector<ScoreRow>& scores) {
  if (scores.empty()) return absl::OkStatus();
  return db_->WithStatement(
      "INSERT INTO scores (time_ms, source, template_id, score, model_version) VALUES (?, ?, ?, ?, "
      "?)",
      [&](SQLite::Statement& s) {
        for (const ScoreRow& r : scores) {
          s.bind(1, static_cast<int64_t>(r.time_ms));
          s.bind(2, r.source);
          s.bind(3, r.template_id);
          s.bind(4, static_cast<double>(r.score));
          s.bind(5, static_cast<int64_t>(r.model_version));
          s.exec();
          s.reset();
        }
        return absl::OkStatus();
      });
}

absl::Status DetectStore::InsertAlerts(const std::vector<AlertRow>& alerts) {
  if (alerts.empty()) return absl::OkStatus();
  return db_->WithStatement(
      "INSERT OR REPLACE INTO alerts (id, time_ms, source, line, template_id, score, threshold, "
      "model_version, tokens, dense, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [&](SQLite::Statement& s) {
        for (const AlertRow& a : alerts) {
          s.bind(1, a.id);
          s.bind(2, static_cast<int64_t>(a.time_ms));
          s.bind(3, a.source);
          s.bind(4, a.line);
          s.bind(5, a.template_id);
          s.bind(6, static_cast<double>(a.score));
          s.bind(7, static_cast<double>(a.threshold));
          s.bind(8, static_cast<int64_t>(a.model_version));
          BindVector(s, 9, a.tokens);
          BindVector(s, 10, a.dense);
          s.bind(11, a.json);
          s.exec();
          s.reset();
        }
        return absl::OkStatus();
      });
}

absl::Status DetectStore::AddCounts(const std::vector<TemplateCount>& counts) {
  if (counts.empty()) return absl::OkStatus();
  return db_->WithStatement(
      "INSERT INTO template_counts (source, template_id, count) VALUES (?, ?, ?) "
      "ON CONFLICT(source, template_id) DO UPDATE SET count = count + excluded.count",
      [&](SQLite::Statement& s) {
        for (const TemplateCount& c : counts) {
          s.bind(1, c.source);
          s.bind(2, c.template_id);
          s.bind(3, static_cast<int64_t>(c.count));
          s.exec();
          s.reset();
        }
        return absl::OkStatus();
      });
}

absl::Status DetectStore::Commit(const BatchRecord& batch) {
  absl::MutexLock lock(&mu_);
  return db_->Transaction([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    FEDLOG_RETURN_IF_ERROR(UpsertOffsets(batch.offsets));
    FEDLOG_RETURN_IF_ERROR(InsertScores(batch.scores));
    FEDLOG_RETURN_IF_ERROR(InsertAlerts(batch.alerts));
    return AddCounts(batch.counts);
  });
}

absl::Status DetectStore::ApplyRetention(int64_t scores, int64_t alerts) {
  absl::MutexLock lock(&mu_);
  FEDLOG_RETURN_IF_ERROR(db_->Exec(
      absl::StrCat("DELETE FROM scores WHERE id <= (SELECT MAX(id) FROM scores) - ", scores)));
  return db_->Exec(
      absl::StrCat("DELETE FROM alerts WHERE seq <= (SELECT MAX(seq) FROM alerts) - ", alerts));
}

absl::Status DetectStore::SaveDrainState(const std::string& source, const std::string& state) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT INTO drain_state (source, state) VALUES (?, ?) "
      "ON CONFLICT(source) DO UPDATE SET state = excluded.state",
      [&](SQLite::Statement& s) {
        s.bind(1, source);
        s.bind(2, state);
        s.exec();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::optional<std::string>> DetectStore::LoadDrainState(const std::string& source) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement("SELECT state FROM drain_state WHERE source = ?",
                                            [&](SQLite::Statement& s) {
                                              s.bind(1, source);
                                              if (s.executeStep()) out = s.getColumn(0).getString();
                                              return absl::OkStatus();
                                            }));
  return out;
}

absl::StatusOr<AlertRow> DetectStore::GetAlert(const std::string& id) {
  absl::MutexLock lock(&mu_);
  std::optional<AlertRow> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT id, time_ms, source, line, template_id, score, threshold, model_version, tokens, "
      "dense, json FROM alerts WHERE id = ?",
      [&](SQLite::Statement& s) {
        s.bind(1, id);
        if (!s.executeStep()) return absl::OkStatus();
        AlertRow a;
        a.id = s.getColumn(0).getString();
        a.time_ms = s.getColumn(1).getInt64();
        a.source = s.getColumn(2).getString();
        a.line = s.getColumn(3).getString();
        a.template_id = s.getColumn(4).getInt();
        a.score = static_cast<float>(s.getColumn(5).getDouble());
        a.threshold = static_cast<float>(s.getColumn(6).getDouble());
        a.model_version = s.getColumn(7).getInt64();
        a.tokens = ColumnVector<int64_t>(s.getColumn(8));
        a.dense = ColumnVector<float>(s.getColumn(9));
        a.json = s.getColumn(10).getString();
        out = std::move(a);
        return absl::OkStatus();
      }));
  if (!out) return absl::NotFoundError(absl::StrCat("alert ", id, " is not in the local store"));
  return *out;
}

absl::Status DetectStore::AddLabel(const LabeledLine& l, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  return db_->WithStatement(
      "INSERT OR REPLACE INTO labels (source, line, label, tokens, dense, origin, time_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      [&](SQLite::Statement& s) {
        s.bind(1, l.source);
        s.bind(2, l.line);
        s.bind(3, l.label);
        BindVector(s, 4, l.tokens);
        BindVector(s, 5, l.dense);
        s.bind(6, l.origin);
        s.bind(7, static_cast<int64_t>(now_ms));
        s.exec();
        return absl::OkStatus();
      });
}

absl::Status DetectStore::RecordFeedback(const std::string& alert_id, bool confirmed,
                                         int64_t now_ms) {
  FEDLOG_ASSIGN_OR_RETURN(AlertRow a, GetAlert(alert_id));
  {
    absl::MutexLock lock(&mu_);
    FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
        "INSERT OR REPLACE INTO feedback (alert_id, verdict, time_ms) VALUES (?, ?, ?)",
        [&](SQLite::Statement& s) {
          s.bind(1, alert_id);
          s.bind(2, confirmed ? "confirm" : "false_positive");
          s.bind(3, static_cast<int64_t>(now_ms));
          s.exec();
          return absl::OkStatus();
        }));
  }
  return AddLabel({a.source, a.line, confirmed ? 1 : 0, a.tokens, a.dense, "feedback:" + alert_id},
                  now_ms);
}

absl::StatusOr<std::optional<std::string>> DetectStore::FeedbackOf(const std::string& alert_id) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> verdict;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement("SELECT verdict FROM feedback WHERE alert_id = ?",
                                            [&](SQLite::Statement& s) {
                                              s.bind(1, alert_id);
                                              if (s.executeStep()) verdict = s.getColumn(0).getString();
                                              return absl::OkStatus();
                                            }));
  return verdict;
}

absl::StatusOr<std::vector<LabeledLine>> DetectStore::LoadLabels(const std::string& source) {
  absl::MutexLock lock(&mu_);
  std::vector<LabeledLine> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement(
      "SELECT source, line, label, tokens, dense, origin FROM labels "
      "WHERE ? = '' OR source = ? ORDER BY id",
      [&](SQLite::Statement& s) {
        s.bind(1, source);
        s.bind(2, source);
        while (s.executeStep()) {
          out.push_back({s.getColumn(0).getString(), s.getColumn(1).getString(),
                         s.getColumn(2).getInt(), ColumnVector<int64_t>(s.getColumn(3)),
                         ColumnVector<float>(s.getColumn(4)), s.getColumn(5).getString()});
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<int64_t> DetectStore::LabelsVersion() {
  absl::MutexLock lock(&mu_);
  int64_t v = 0;
  FEDLOG_RETURN_IF_ERROR(
      db_->WithStatement("SELECT COALESCE(MAX(id), 0) FROM labels", [&](SQLite::Statement& s) {
        if (s.executeStep()) v = s.getColumn(0).getInt64();
        return absl::OkStatus();
      }));
  return v;
}

absl::StatusOr<int64_t> DetectStore::CountRows(const std::string& table) {
  static const char* const kTables[] = {"offsets", "drain_state", "template_counts", "scores",
                                        "alerts",  "feedback",    "labels"};
  if (std::find(std::begin(kTables), std::end(kTables), table) == std::end(kTables)) {
    return absl::InvalidArgumentError(absl::StrCat("no table ", table, " in the detection store"));
  }
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  FEDLOG_RETURN_IF_ERROR(
      db_->WithStatement(absl::StrCat("SELECT COUNT(*) FROM ", table), [&](SQLite::Statement& s) {
        if (s.executeStep()) n = s.getColumn(0).getInt64();
        return absl::OkStatus();
      }));
  return n;
}

}  // namespace fedlog::client::detect
