#include "common/labels/seed_labeled.h"

#include <iterator>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/labels/csv.h"

namespace fedlog::labels {
namespace {

struct Columns {
  size_t content, event_id, event_template, label, label_name;
  std::optional<size_t> line_id, source;
};

absl::StatusOr<Columns> FindColumns(const CsvTable& table) {
  Columns c{};
  FEDLOG_ASSIGN_OR_RETURN(c.content, table.Column("Content"));
  FEDLOG_ASSIGN_OR_RETURN(c.event_id, table.Column("EventId"));
  FEDLOG_ASSIGN_OR_RETURN(c.event_template, table.Column("EventTemplate"));
  FEDLOG_ASSIGN_OR_RETURN(c.label, table.Column("AnomalyLabel"));
  FEDLOG_ASSIGN_OR_RETURN(c.label_name, table.Column("AnomalyLabelName"));
  if (auto col = table.Column("LineId"); col.ok()) c.line_id = *col;
  if (auto col = table.Column("Source"); col.ok()) c.source = *col;
  return c;
}

absl::StatusOr<SeedLabeledLine> ConvertRow(const CsvRow& row, const Columns& c) {
  SeedLabeledLine out;
  out.line = row.line;
  out.content = row.fields[c.content];
  out.event_id = row.fields[c.event_id];
  out.event_template = row.fields[c.event_template];
  out.anomaly_label_name = row.fields[c.label_name];
  if (c.line_id) out.line_id = row.fields[*c.line_id];
  if (c.source) out.source = row.fields[*c.source];
  const std::string& raw = row.fields[c.label];
  if (!absl::SimpleAtoi(raw, &out.anomaly_label) ||
      SeedAnomalyTypeName(out.anomaly_label).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", row.line, ": AnomalyLabel \"", raw, "\" is not an integer in 0..6"));
  }
  if (SeedAnomalyTypeName(out.anomaly_label) != out.anomaly_label_name) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", row.line, ": AnomalyLabel ", out.anomaly_label, " should be named \"",
        SeedAnomalyTypeName(out.anomaly_label), "\", got \"", out.anomaly_label_name, "\""));
  }
  return out;
}

}  // namespace

absl::string_view SeedAnomalyTypeName(int label) {
  static constexpr absl::string_view kNames[] = {
      "normal",          "security_anomaly", "system_failure", "performance_issue",
      "network_anomaly", "config_error",     "hardware_issue"};
  if (label < 0 || label >= static_cast<int>(std::size(kNames))) return "";
  return kNames[label];
}

absl::StatusOr<std::vector<SeedLabeledLine>> ParseSeedLabeledCsv(absl::string_view csv_text) {
  FEDLOG_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(csv_text));
  FEDLOG_ASSIGN_OR_RETURN(Columns columns, FindColumns(table));
  std::vector<SeedLabeledLine> out;
  out.reserve(table.rows.size());
  for (const CsvRow& row : table.rows) {
    FEDLOG_ASSIGN_OR_RETURN(SeedLabeledLine line, ConvertRow(row, columns));
    out.push_back(std::move(line));
  }
  return out;
}

absl::StatusOr<std::vector<SeedLabeledLine>> ReadSeedLabeledCsv(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::vector<SeedLabeledLine>> lines = ParseSeedLabeledCsv(text);
  if (!lines.ok()) return Annotate(lines.status(), path);
  return lines;
}

Label ToLabel(const SeedLabeledLine& line) {
  return Label{line.anomalous(), line.anomalous() ? line.anomaly_label_name : "",
               Provenance{LabelOrigin::kRule, "seed_keywords"}};
}

}  // namespace fedlog::labels
