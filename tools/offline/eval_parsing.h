// Parsing-accuracy evaluation against loghub ground truth: each source's .log is parsed with its built-in
// format and Drain, and the per-line template ids and strings are scored with GA and PA
// (common/logparse/parsing_accuracy.h). Thread-compatible.
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_PARSING_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_PARSING_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logparse/drain_config.h"

namespace fedlog::offline {

struct SourceAccuracy {
  double ga = 0;
  double pa = 0;
  int64_t lines = 0;
  int64_t unmatched_headers = 0;
  int64_t predicted_templates = 0;
  int64_t truth_templates = 0;
};

// Published Drain grouping accuracy on loghub-2k (Zhu et al. 2019), by source; -1 when unknown.
double PublishedDrainGa(const std::string& source);

// Scores one source: `log_path` lines paired in order with the rows of `csv_path` (columns EventId and
// EventTemplate found by header name). FailedPrecondition when the line and row counts differ.
absl::StatusOr<SourceAccuracy> EvaluateSource(const std::string& source, const std::string& log_path,
                                              const std::string& csv_path,
                                              const logparse::DrainOptions& options,
                                              const std::string& dump_path = "");

struct ParsingReport {
  std::map<std::string, SourceAccuracy> original;   // loghub-2k (GA and PA vs loghub's templates)
  std::map<std::string, SourceAccuracy> corrected;  // loghub-2k-corrected
  double mean_ga = 0;            // over `original`
  double mean_ga_corrected = 0;
  double mean_pa_corrected = 0;
};

// Evaluates every built-in source present under `data_dir`/loghub-2k and `data_dir`/loghub-2k-corrected
// with options from `config` (DrainConfig::ForSource). NotFound when neither folder has any source.
// With `dump_dir`, each source's per-line predictions go to <dump_dir>/<Src>.pred.csv (line, template id,
// template, truth event id) for error analysis.
absl::StatusOr<ParsingReport> EvaluateParsing(const std::string& data_dir, const logparse::DrainConfig& config,
                                              const std::string& dump_dir = "");

std::string ReportJson(const ParsingReport& r, const std::string& config_name);
std::string ReportMarkdown(const ParsingReport& r, const std::string& config_name);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_PARSING_H_
