#include "common/eval/report.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::eval {
namespace {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) { return absl::StrFormat("%.6g", v); }

// The metrics every row and the aggregate carry, in column order.
std::vector<std::pair<const char*, double>> ThresholdMetrics(const BinaryMetrics& m) {
  return {{"precision", m.precision},
          {"recall", m.recall},
          {"f1", m.f1},
          {"f1_macro", m.f1_macro},
          {"balanced_accuracy", m.balanced_accuracy},
          {"mcc", m.mcc}};
}

std::string RowJson(const SourceResult& r) {
  const BinaryMetrics& m = r.metrics;
  const ConfusionMatrix& cm = m.confusion;
  std::vector<std::string> fields = {absl::StrCat("\"source\": ", JsonString(r.source)),
                                     absl::StrCat("\"support\": ", cm.Total()),
                                     absl::StrCat("\"tp\": ", cm.tp),
                                     absl::StrCat("\"fp\": ", cm.fp),
                                     absl::StrCat("\"tn\": ", cm.tn),
                                     absl::StrCat("\"fn\": ", cm.fn)};
  for (const auto& [name, value] : ThresholdMetrics(m)) {
    fields.push_back(absl::StrCat("\"", name, "\": ", JsonNumber(value)));
  }
  fields.push_back(absl::StrCat("\"auroc\": ", m.ranking_defined ? JsonNumber(m.auroc) : "null"));
  fields.push_back(absl::StrCat("\"pr_auc\": ", m.ranking_defined ? JsonNumber(m.pr_auc) : "null"));
  return absl::StrCat("{", absl::StrJoin(fields, ", "), "}");
}

std::vector<std::pair<const char*, MeanStd>> AggregateFields(const AggregateMetrics& a) {
  return {{"precision", a.precision},
          {"recall", a.recall},
          {"f1", a.f1},
          {"f1_macro", a.f1_macro},
          {"balanced_accuracy", a.balanced_accuracy},
          {"mcc", a.mcc},
          {"auroc", a.auroc},
          {"pr_auc", a.pr_auc}};
}

std::string AggregateJson(const AggregateMetrics& a) {
  std::vector<std::string> fields = {absl::StrCat("\"sources\": ", a.sources),
                                     absl::StrCat("\"ranking_sources\": ", a.ranking_sources)};
  for (const auto& [name, ms] : AggregateFields(a)) {
    fields.push_back(absl::StrCat("\"", name, "\": {\"mean\": ", JsonNumber(ms.mean),
                                  ", \"std\": ", JsonNumber(ms.std), "}"));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ", "), "}");
}

std::string Cell(double v) { return absl::StrFormat("%.4f", v); }

std::string MarkdownEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += (c == '\n' ? ' ' : c);
  }
  return out;
}

}  // namespace

std::string RenderJson(const EvalReport& report) {
  std::vector<std::string> rows;
  for (const SourceResult& r : report.rows) rows.push_back("    " + RowJson(r));
  return absl::StrCat("{\n  \"title\": ", JsonString(report.title), ",\n  \"sources\": [\n",
                      absl::StrJoin(rows, ",\n"), rows.empty() ? "" : "\n",
                      "  ],\n  \"aggregate\": ", AggregateJson(Aggregate(report.rows)), "\n}\n");
}

std::string RenderMarkdown(const EvalReport& report) {
  std::string out = absl::StrCat("## ", MarkdownEscape(report.title), "\n\n");
  out +=
      "| source | support | precision | recall | F1 | F1-macro | balanced acc. | MCC | AUROC | "
      "PR-AUC |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const SourceResult& r : report.rows) {
    const BinaryMetrics& m = r.metrics;
    absl::StrAppend(&out, "| ", MarkdownEscape(r.source), " | ", m.confusion.Total());
    for (const auto& [name, value] : ThresholdMetrics(m)) absl::StrAppend(&out, " | ", Cell(value));
    absl::StrAppend(&out, " | ", m.ranking_defined ? Cell(m.auroc) : "n/a", " | ",
                    m.ranking_defined ? Cell(m.pr_auc) : "n/a", " |\n");
  }
  const AggregateMetrics a = Aggregate(report.rows);
  absl::StrAppend(&out, "| mean ± std (", a.sources, " sources) | ");
  for (const auto& [name, ms] : AggregateFields(a)) {
    absl::StrAppend(&out, " | ", Cell(ms.mean), " ± ", Cell(ms.std));
  }
  return out + " |\n";
}

absl::Status WriteReport(const EvalReport& report, const std::string& json_path,
                         const std::string& markdown_path) {
  if (!json_path.empty()) {
    FEDLOG_RETURN_IF_ERROR(Annotate(WriteFileAtomic(json_path, RenderJson(report)), json_path));
  }
  if (!markdown_path.empty()) {
    FEDLOG_RETURN_IF_ERROR(
        Annotate(WriteFileAtomic(markdown_path, RenderMarkdown(report)), markdown_path));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::eval
