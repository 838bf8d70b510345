#include "client/line_labels.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/labels/csv.h"

namespace fedlog::client {

absl::StatusOr<std::map<int64_t, int>> ReadLineLabels(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<labels::CsvTable> csv = labels::ParseCsv(text);
  if (!csv.ok()) return Annotate(csv.status(), path);
  absl::StatusOr<size_t> id_col = csv->Column("LineId");
  if (!id_col.ok()) id_col = csv->Column("line");
  absl::StatusOr<size_t> label_col = csv->Column("AnomalyLabel");
  if (!label_col.ok()) label_col = csv->Column("label");
  if (!id_col.ok() || !label_col.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": needs LineId/line and AnomalyLabel/label columns"));
  }
  std::map<int64_t, int> out;
  for (const labels::CsvRow& row : csv->rows) {
    int64_t id;
    int label;
    if (!absl::SimpleAtoi(row.fields[*id_col], &id) ||
        !absl::SimpleAtoi(row.fields[*label_col], &label) || id < 1 || label < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", row.line, ": bad line number or label"));
    }
    if (!out.emplace(id, label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", row.line, ": line ", id, " is labeled twice"));
    }
  }
  return out;
}

std::vector<std::string> WarnAboutLineLabels(const std::string& labels_path, const std::string& log_path,
                                             const std::map<int64_t, int>& labels) {
  std::vector<std::string> warnings;
  if (labels.empty()) return warnings;
  if (absl::StatusOr<std::string> text = ReadFile(log_path); text.ok()) {
    int64_t lines = std::count(text->begin(), text->end(), '\n');
    if (!text->empty() && text->back() != '\n') ++lines;
    const int64_t past = std::count_if(labels.begin(), labels.end(), [&](const auto& l) { return l.first > lines; });
    if (past > 0) {
      warnings.push_back(absl::StrCat(labels_path, ": ", past, " of ", labels.size(), " labeled line(s) are past the end of ",
                                      log_path, " (", lines, " lines) and label nothing"));
    }
  }
  const int64_t anomalous = std::count_if(labels.begin(), labels.end(), [](const auto& l) { return l.second > 0; });
  if (anomalous == 0 || anomalous == static_cast<int64_t>(labels.size())) {
    warnings.push_back(absl::StrCat(labels_path, ": all ", labels.size(), " labels are ",
                                    anomalous == 0 ? "normal (0)" : "anomalous (>= 1)",
                                    "; meta-learning and F1 need both classes"));
  }
  for (const std::string& w : warnings) FEDLOG_LOG(WARNING) << w;
  return warnings;
}

}  // namespace fedlog::client
