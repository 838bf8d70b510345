#include "client/line_labels.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
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

}  // namespace fedlog::client
