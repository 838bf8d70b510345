#include "common/eval/threshold.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"

namespace fedlog::eval {

absl::StatusOr<ThresholdChoice> SelectThresholdMaxF1(absl::Span<const int> labels,
                                                     absl::Span<const double> scores) {
  if (labels.empty()) return absl::InvalidArgumentError("no validation samples");
  // Auroc validates lengths, label values and NaN; its value is not needed here.
  FEDLOG_RETURN_IF_ERROR(Auroc(labels, scores).status());
  const int64_t n_pos = std::count(labels.begin(), labels.end(), 1);
  const double max_score = *std::max_element(scores.begin(), scores.end());
  if (n_pos == 0) {
    return ThresholdChoice{std::nextafter(max_score, std::numeric_limits<double>::infinity()), 0.0};
  }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ThresholdChoice best{std::nextafter(max_score, std::numeric_limits<double>::infinity()), 0.0};
  ConfusionMatrix cm{.tp = 0, .fp = 0, .tn = 0, .fn = n_pos};
  cm.tn = static_cast<int64_t>(labels.size()) - n_pos;
  for (size_t i = 0; i < order.size();) {
    const double t = scores[order[i]];
    for (; i < order.size() && scores[order[i]] == t; ++i) {
      if (labels[order[i]] == 1) {
        ++cm.tp;
        --cm.fn;
      } else {
        ++cm.fp;
        --cm.tn;
      }
    }
    const double f1 = F1(cm);
    if (f1 > best.f1) best = ThresholdChoice{t, f1};  // strict: an earlier (higher) t wins ties
  }
  return best;
}

absl::StatusOr<ThresholdChoice> SelectThresholdMaxF1MidGap(absl::Span<const int> labels,
                                                           absl::Span<const double> scores) {
  FEDLOG_ASSIGN_OR_RETURN(ThresholdChoice best, SelectThresholdMaxF1(labels, scores));
  double below = -std::numeric_limits<double>::infinity();
  for (double s : scores) {
    if (s < best.threshold && s > below) below = s;
  }
  if (std::isfinite(below)) best.threshold = below + (best.threshold - below) / 2;
  return best;
}

}  // namespace fedlog::eval
