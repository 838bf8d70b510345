// Aggregation of per-source results into mean +- standard deviation, as reported in cross-source
// tables. The standard deviation is the population one (divide by n, numpy's default), so one
// source gives std 0. Thread-safety: pure functions, safe to call concurrently.
#ifndef FEDLOG_COMMON_EVAL_AGGREGATE_H_
#define FEDLOG_COMMON_EVAL_AGGREGATE_H_

#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/eval/metrics.h"

namespace fedlog::eval {

struct MeanStd {
  double mean = 0;
  double std = 0;
};

// Mean and population standard deviation; {0, 0} for an empty span.
MeanStd ComputeMeanStd(absl::Span<const double> values);

// One evaluated source (a held-out site, a leave-one-source-out fold, ...).
struct SourceResult {
  std::string source;
  BinaryMetrics metrics;
};

// Mean +- std of every scalar metric across sources. Ranking metrics average only the sources where
// ranking_defined is true (`ranking_sources` counts them), so a one-class source cannot drag AUROC
// to 0.5.
struct AggregateMetrics {
  int sources = 0;
  int ranking_sources = 0;
  MeanStd precision, recall, f1, f1_macro, balanced_accuracy, mcc, auroc, pr_auc;
};

AggregateMetrics Aggregate(absl::Span<const SourceResult> results);

}  // namespace fedlog::eval

#endif  // FEDLOG_COMMON_EVAL_AGGREGATE_H_
