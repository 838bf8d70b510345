// Reader for the weakly labelled loghub 2k files (seed-labeled-2k/<Src>_2k_labeled.csv). Their
// columns vary per source, so columns are found by header name; Content, EventId, EventTemplate,
// AnomalyLabel and AnomalyLabelName are required, LineId and Source are read when present.
// AnomalyLabel is 0 (normal) or 1..6 and must agree with AnomalyLabelName (SeedAnomalyTypeName) - a
// mismatch means a shifted column. These labels are keyword-derived, not ground truth: ToLabel
// marks them as rule:seed_keywords. Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_LABELS_SEED_LABELED_H_
#define FEDLOG_COMMON_LABELS_SEED_LABELED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/labels/label.h"

namespace fedlog::labels {

struct SeedLabeledLine {
  int64_t line = 0;     // line of the CSV file where the record starts
  std::string line_id;  // LineId column, empty when absent
  std::string source;   // Source column, empty when absent
  std::string content;
  std::string event_id;
  std::string event_template;
  int anomaly_label = 0;  // 0 normal, 1..6 anomaly type
  std::string anomaly_label_name;
  bool anomalous() const { return anomaly_label != 0; }
};

// 0 normal, 1 security_anomaly, 2 system_failure, 3 performance_issue, 4 network_anomaly, 5
// config_error, 6 hardware_issue; "" for other values.
absl::string_view SeedAnomalyTypeName(int label);

// InvalidArgument (with the line) for malformed CSV, a non-integer or out-of-range AnomalyLabel, or
// a name that disagrees with the label; NotFound naming the column when a required column is
// missing.
absl::StatusOr<std::vector<SeedLabeledLine>> ParseSeedLabeledCsv(absl::string_view csv_text);
absl::StatusOr<std::vector<SeedLabeledLine>> ReadSeedLabeledCsv(const std::string& path);

// anomaly type = AnomalyLabelName for anomalies; provenance rule:seed_keywords (weak labels).
Label ToLabel(const SeedLabeledLine& line);

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_SEED_LABELED_H_
