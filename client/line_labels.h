// Labels of a site's own log lines, read from the CSV an operator names next to a log source
// (LogSourceConfig.labels) or passes to `fedlog score`. The loghub seed-labeled CSVs
// (LineId, ..., AnomalyLabel) and `fedlog synth`'s sidecars (line, label, kind) both fit. Labels
// stay at the site: they shape its local training and evaluation, never the wire. Thread-safety:
// stateless.
#ifndef FEDLOG_CLIENT_LINE_LABELS_H_
#define FEDLOG_CLIENT_LINE_LABELS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::client {

// 1-based line number -> label (0 normal, >= 1 anomalous; the value is the anomaly type where the
// file has types). The CSV needs a line-number column "LineId" or "line" and a label column
// "AnomalyLabel" or "label". NotFound for a missing file; InvalidArgument, naming the file and CSV
// line, for a missing column, a bad number, a line number < 1, a negative label or a duplicate.
absl::StatusOr<std::map<int64_t, int>> ReadLineLabels(const std::string& path);

// Logs a warning (naming `labels_path`) for what makes labels silently useless: rows past the end of the log
// at `log_path` (they label nothing) and labels of one class only (meta-learning and F1 need both). Returns
// the warnings it logged (for tests and the CLI).
std::vector<std::string> WarnAboutLineLabels(const std::string& labels_path, const std::string& log_path,
                                             const std::map<int64_t, int>& labels);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_LINE_LABELS_H_
