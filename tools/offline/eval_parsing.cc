#include "tools/offline/eval_parsing.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/logparse/csv.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "common/logparse/parsing_accuracy.h"

namespace fedlog::offline {
namespace lp = ::fedlog::logparse;

double PublishedDrainGa(const std::string& source) {
  static const std::map<std::string, double> kDrain = {
      {"HDFS", .998},    {"Hadoop", .948},  {"Spark", .920},     {"Zookeeper", .967}, {"BGL", .963},
      {"HPC", .887},     {"Thunderbird", .955}, {"Windows", .997}, {"Linux", .690},    {"Android", .911},
      {"HealthApp", .780}, {"Apache", 1.0}, {"Proxifier", .527},  {"OpenSSH", .788},   {"OpenStack", .733},
      {"Mac", .787}};
  auto it = kDrain.find(source);
  return it == kDrain.end() ? -1.0 : it->second;
}

namespace {

int Column(const lp::CsvRow& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

absl::StatusOr<SourceAccuracy> EvaluateSource(const std::string& source, const std::string& log_path,
                                              const std::string& csv_path, const lp::DrainOptions& options,
                                              const std::string& dump_path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string log, lp::ReadLogFile(log_path));
  FEDLOG_ASSIGN_OR_RETURN(std::string csv_text, ReadFile(csv_path));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<lp::CsvRow> rows, lp::ParseCsv(csv_text));
  if (rows.empty()) return absl::InvalidArgumentError(csv_path + ": empty");
  const int id_col = Column(rows[0], "EventId"), tmpl_col = Column(rows[0], "EventTemplate");
  if (id_col < 0 || tmpl_col < 0) return absl::InvalidArgumentError(csv_path + ": no EventId/EventTemplate");
  std::vector<std::string_view> lines = lp::SplitLines(log);
  if (lines.size() + 1 != rows.size()) {
    return absl::FailedPreconditionError(absl::StrCat(log_path, " has ", lines.size(), " lines but ", csv_path,
                                                      " has ", rows.size() - 1, " rows"));
  }
  lp::ParserOptions popts;
  popts.default_year = 2000;
  FEDLOG_ASSIGN_OR_RETURN(auto parser, lp::CreateLineParser(source, popts));
  FEDLOG_ASSIGN_OR_RETURN(auto drain, lp::Drain::Create(options));
  lp::ParsedLine parsed;
  lp::ParseStats stats;
  std::vector<int32_t> ids;
  ids.reserve(lines.size());
  for (std::string_view line : lines) {
    parser->Parse(line, &parsed);
    stats.Add(parsed);
    ids.push_back(drain->Add(parsed.content).template_id);
  }
  std::vector<int64_t> predicted;
  std::vector<std::string> templates, truth_ids, truth_templates;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = drain->Resolve(ids[i]);  // later merges apply to earlier lines too
    predicted.push_back(id);
    templates.push_back(drain->TemplateText(id));
    const lp::CsvRow& row = rows[i + 1];
    truth_ids.push_back(id_col < static_cast<int>(row.size()) ? row[id_col] : "");
    truth_templates.push_back(tmpl_col < static_cast<int>(row.size()) ? row[tmpl_col] : "");
  }
  if (!dump_path.empty()) {
    std::string dump = "line,template_id,template,truth_id,truth_template\n";
    for (size_t i = 0; i < predicted.size(); ++i) {
      absl::StrAppend(&dump, i + 1, ",", predicted[i], ",", lp::CsvEscape(templates[i]), ",",
                      lp::CsvEscape(truth_ids[i]), ",", lp::CsvEscape(truth_templates[i]), "\n");
    }
    FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(dump_path, dump));
  }
  SourceAccuracy acc;
  acc.ga = lp::GroupingAccuracy(predicted, truth_ids);
  acc.pa = lp::TemplateAccuracy(templates, truth_templates);
  acc.lines = static_cast<int64_t>(lines.size());
  acc.unmatched_headers = stats.unmatched;
  acc.predicted_templates = static_cast<int64_t>(drain->Templates().size());
  acc.truth_templates = static_cast<int64_t>(std::set<std::string>(truth_ids.begin(), truth_ids.end()).size());
  return acc;
}

absl::StatusOr<ParsingReport> EvaluateParsing(const std::string& data_dir, const lp::DrainConfig& config,
                                              const std::string& dump_dir) {
  ParsingReport r;
  for (const lp::BuiltinFormat& f : lp::BuiltinFormats()) {
    const std::string src = f.name;
    FEDLOG_ASSIGN_OR_RETURN(lp::DrainOptions options, config.ForSource(src));
    const std::string dir = JoinPath(JoinPath(data_dir, "loghub-2k"), src);
    const std::string log = JoinPath(dir, src + "_2k.log");
    if (FileExists(log)) {
      FEDLOG_ASSIGN_OR_RETURN(r.original[src], EvaluateSource(src, log, log + "_structured.csv", options,
                                                              dump_dir.empty() ? "" : JoinPath(dump_dir, src + ".pred.csv")));
    }
    const std::string cdir = JoinPath(JoinPath(data_dir, "loghub-2k-corrected"), src);
    const std::string clog = JoinPath(cdir, src + "_2k.log");
    if (FileExists(clog)) {
      FEDLOG_ASSIGN_OR_RETURN(r.corrected[src],
                              EvaluateSource(src, clog, clog + "_structured_corrected.csv", options));
    }
  }
  if (r.original.empty() && r.corrected.empty()) {
    return absl::NotFoundError("no loghub-2k sources under " + data_dir);
  }
  for (const auto& [s, a] : r.original) r.mean_ga += a.ga / static_cast<double>(r.original.size());
  for (const auto& [s, a] : r.corrected) {
    r.mean_ga_corrected += a.ga / static_cast<double>(r.corrected.size());
    r.mean_pa_corrected += a.pa / static_cast<double>(r.corrected.size());
  }
  return r;
}

std::string ReportJson(const ParsingReport& r, const std::string& config_name) {
  std::string out = absl::StrCat("{\n  \"config\": \"", config_name, "\",\n  \"sources\": {");
  bool first = true;
  for (const auto& [src, a] : r.original) {
    const auto c = r.corrected.find(src);
    absl::StrAppendFormat(&out, "%s\n    \"%s\": {\"ga\": %.4f, \"pa\": %.4f, \"lines\": %d, "
                          "\"unmatched_headers\": %d, \"templates\": %d, \"truth_templates\": %d",
                          first ? "" : ",", src, a.ga, a.pa, a.lines, a.unmatched_headers, a.predicted_templates,
                          a.truth_templates);
    if (c != r.corrected.end()) {
      absl::StrAppendFormat(&out, ", \"ga_corrected\": %.4f, \"pa_corrected\": %.4f", c->second.ga, c->second.pa);
    }
    absl::StrAppendFormat(&out, ", \"drain_published_ga\": %.3f}", PublishedDrainGa(src));
    first = false;
  }
  absl::StrAppendFormat(&out, "\n  },\n  \"mean_ga\": %.4f,\n  \"mean_ga_corrected\": %.4f,\n"
                        "  \"mean_pa_corrected\": %.4f\n}\n", r.mean_ga, r.mean_ga_corrected, r.mean_pa_corrected);
  return out;
}

std::string ReportMarkdown(const ParsingReport& r, const std::string& config_name) {
  std::string out = absl::StrCat("Parsing accuracy, config: ", config_name, "\n\n",
                                 "| source | GA | Drain (published) GA | PA | GA corrected | PA corrected | "
                                 "templates / truth | unmatched headers |\n|---|---|---|---|---|---|---|---|\n");
  for (const auto& [src, a] : r.original) {
    const auto c = r.corrected.find(src);
    const bool has_c = c != r.corrected.end();
    absl::StrAppendFormat(&out, "| %s | %.3f | %.3f | %.3f | %s | %s | %d / %d | %d |\n", src, a.ga,
                          PublishedDrainGa(src), a.pa, has_c ? absl::StrFormat("%.3f", c->second.ga) : "-",
                          has_c ? absl::StrFormat("%.3f", c->second.pa) : "-", a.predicted_templates,
                          a.truth_templates, a.unmatched_headers);
  }
  double drain_mean = 0;
  for (const auto& [src, a] : r.original) drain_mean += PublishedDrainGa(src) / static_cast<double>(r.original.size());
  absl::StrAppendFormat(&out, "| **mean** | **%.3f** | %.3f | | %.3f | %.3f | | |\n", r.mean_ga, drain_mean,
                        r.mean_ga_corrected, r.mean_pa_corrected);
  return out;
}

}  // namespace fedlog::offline
