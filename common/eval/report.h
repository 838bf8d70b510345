// Evaluation reports: per-source metric rows plus their mean +- std, rendered as JSON (for tooling
// and docs/EVALUATION.md generators) or as a markdown table (for humans). Numbers are printed with
// 4 decimals in markdown and 6 significant digits in JSON; ranking metrics of a one-class source
// print as "n/a" in markdown and null in JSON, matching how Aggregate leaves them out.
// Thread-safety: pure functions; WriteReport touches only the given paths.
#ifndef FEDLOG_COMMON_EVAL_REPORT_H_
#define FEDLOG_COMMON_EVAL_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/eval/aggregate.h"

namespace fedlog::eval {

struct EvalReport {
  std::string title;  // e.g. "leave-one-source-out, 5-shot, seed 7"
  std::vector<SourceResult> rows;
};

// {"title": ..., "sources": [{"source", "support", "tp", "fp", "tn", "fn", metrics...}],
// "aggregate": {...}}
std::string RenderJson(const EvalReport& report);

// A "## title" heading, one table row per source, and a final "mean ± std" row.
std::string RenderMarkdown(const EvalReport& report);

// Writes both renderings atomically; an empty path skips that format. Errors come from the file
// system.
absl::Status WriteReport(const EvalReport& report, const std::string& json_path,
                         const std::string& markdown_path);

}  // namespace fedlog::eval

#endif  // FEDLOG_COMMON_EVAL_REPORT_H_
