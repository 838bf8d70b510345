// DetectStore: the detector's local state in SQLite (WAL mode, <data_dir>/detect.db): file offsets,
// Drain templates per source, template counts, recent scores, alerts (with the encoder input of the
// alerted line, so a verdict becomes a training label), operator feedback and local labels.
// Offsets, scores, alerts and counts of one micro-batch commit in one transaction, so a restart
// resumes exactly after the last committed line. `fedlog feedback` opens the same file while the
// daemon runs (WAL readers/writers and a busy timeout make that safe). Thread-safe: every method
// locks an internal mutex.
#ifndef FEDLOG_CLIENT_DETECT_DETECT_STORE_H_
#define FEDLOG_CLIENT_DETECT_DETECT_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/database.h"

namespace fedlog::client::detect {

// Where reading of one file stopped. Files are identified by (dev, ino), so a rename keeps them.
struct FileOffset {
  std::string source;
  uint64_t dev = 0;
  uint64_t ino = 0;
  std::string path;    // last path it was read under
  int64_t offset = 0;  // bytes consumed (end of the last processed complete line)
};

struct ScoreRow {
  int64_t time_ms = 0;
  std::string source;
  int32_t template_id = -1;
  float score = 0;
  int64_t model_version = 0;
};

struct AlertRow {
  std::string id;
  int64_t time_ms = 0;
  std::string source;
  std::string line;
  int32_t template_id = -1;
  float score = 0;
  float threshold = 0;
  int64_t model_version = 0;
  std::vector<int64_t> tokens;  // encoder input of the line (line_input.h)
  std::vector<float> dense;
  std::string json;  // the alert as written to the JSON lines file
};

struct LabeledLine {
  std::string source;
  std::string line;
  int label = 0;  // 0 normal, 1 anomalous
  std::vector<int64_t> tokens;
  std::vector<float> dense;
  std::string origin;  // "feedback:<alert id>" or "labels_file"
};

struct TemplateCount {
  std::string source;
  int32_t template_id = -1;
  int64_t count = 0;
};

// Everything one micro-batch changes.
struct BatchRecord {
  std::vector<FileOffset> offsets;
  std::vector<ScoreRow> scores;
  std::vector<AlertRow> alerts;
  std::vector<TemplateCount> counts;  // increments
};

class DetectStore {
 public:
  static absl::StatusOr<std::unique_ptr<DetectStore>> Open(const std::string& path);

  absl::StatusOr<std::vector<FileOffset>> LoadOffsets();
  // Commits `batch` atomically.
  absl::Status Commit(const BatchRecord& batch);
  // Keeps the newest `scores` scores and `alerts` alerts (feedback and labels are kept).
  absl::Status ApplyRetention(int64_t scores, int64_t alerts);

  absl::Status SaveDrainState(const std::string& source, const std::string& state);
  absl::StatusOr<std::optional<std::string>> LoadDrainState(const std::string& source);

  // NotFound when the alert is unknown (never raised, or dropped by retention).
  absl::StatusOr<AlertRow> GetAlert(const std::string& id);
  // Stores the operator's verdict and turns the alert into a label (1 confirmed, 0 false positive);
  // a second verdict on the same alert replaces the first.
  absl::Status RecordFeedback(const std::string& alert_id, bool confirmed, int64_t now_ms);
  // The verdict stored for an alert ("confirm" or "false_positive"); nullopt when there is none.
  absl::StatusOr<std::optional<std::string>> FeedbackOf(const std::string& alert_id);
  absl::Status AddLabel(const LabeledLine& label, int64_t now_ms);
  // Labels of `source` ("" = every source), oldest first.
  absl::StatusOr<std::vector<LabeledLine>> LoadLabels(const std::string& source);
  // Changes whenever a label is added or replaced (a new verdict on the same alert included).
  absl::StatusOr<int64_t> LabelsVersion();
  absl::StatusOr<int64_t> CountRows(const std::string& table);

 private:
  explicit DetectStore(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}
  absl::Status InsertAlerts(const std::vector<AlertRow>& alerts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertScores(const std::vector<ScoreRow>& scores) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpsertOffsets(const std::vector<FileOffset>& offsets)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddCounts(const std::vector<TemplateCount>& counts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<store::Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_DETECT_STORE_H_
