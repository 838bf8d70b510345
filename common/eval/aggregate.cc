#include "common/eval/aggregate.h"

#include <cmath>
#include <functional>

namespace fedlog::eval {
namespace {

MeanStd Collect(absl::Span<const SourceResult> results, bool ranking_only,
                const std::function<double(const BinaryMetrics&)>& get) {
  std::vector<double> values;
  for (const SourceResult& r : results) {
    if (ranking_only && !r.metrics.ranking_defined) continue;
    values.push_back(get(r.metrics));
  }
  return ComputeMeanStd(values);
}

}  // namespace

MeanStd ComputeMeanStd(absl::Span<const double> values) {
  if (values.empty()) return {};
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double sq = 0;
  for (double v : values) sq += (v - mean) * (v - mean);
  return MeanStd{mean, std::sqrt(sq / static_cast<double>(values.size()))};
}

AggregateMetrics Aggregate(absl::Span<const SourceResult> results) {
  AggregateMetrics a;
  a.sources = static_cast<int>(results.size());
  for (const SourceResult& r : results) a.ranking_sources += r.metrics.ranking_defined ? 1 : 0;
  a.precision = Collect(results, false, [](const BinaryMetrics& m) { return m.precision; });
  a.recall = Collect(results, false, [](const BinaryMetrics& m) { return m.recall; });
  a.f1 = Collect(results, false, [](const BinaryMetrics& m) { return m.f1; });
  a.f1_macro = Collect(results, false, [](const BinaryMetrics& m) { return m.f1_macro; });
  a.balanced_accuracy =
      Collect(results, false, [](const BinaryMetrics& m) { return m.balanced_accuracy; });
  a.mcc = Collect(results, false, [](const BinaryMetrics& m) { return m.mcc; });
  a.auroc = Collect(results, true, [](const BinaryMetrics& m) { return m.auroc; });
  a.pr_auc = Collect(results, true, [](const BinaryMetrics& m) { return m.pr_auc; });
  return a;
}

}  // namespace fedlog::eval
