// A source's operating point for the label-free detector, learned where that source has labels, and
// its use at a site that has none (docs/EVALUATION.md "Session 16: the federation's operating point...").
// A site that labels a source knows where the label-free score should be cut for it: the F1-best cut
// on its labelled units' scores, the share of units that cut alerts, and the source's anomalous share.
// A site with no labels for the same source type could take one of those instead of its own alert
// budget. OperatingPointFromLabels computes the point; TransferredCut applies one quantity of it to a
// stream of scores in order. Torch-free and gRPC-free; `fedlog eval newsite --federated --fed-sibling`
// measures it (tools/offline/eval_newsite_federated_point.cc). Live detection does not use it: on the
// BGL tuning parts the point did not carry from one stream to another (the calibrated score and the
// rates depend on where each stream's incidents fall), so no federation path carries it.
// Thread-compatible.
#ifndef FEDLOG_COMMON_NOVELTY_OPERATING_POINT_H_
#define FEDLOG_COMMON_NOVELTY_OPERATING_POINT_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::novelty {

struct OperatingPoint {
  double threshold = 0;   // F1-best cut on the labelled scores (MaxF1Threshold; alert at score >= it)
  double alert_rate = 0;  // share of the labelled units whose score is at or above `threshold`
  double prevalence = 0;  // share of the labelled units that are anomalous
  double f1 = 0;          // F1 of that cut on the labelled units
  int64_t units = 0;      // labelled units used
  int64_t anomalous = 0;  // ... of them anomalous
};

// The operating point of one source from its labelled units' label-free scores (`labels`: 1 =
// anomalous, 0 = normal; same length). Scores below 0 mean "no score" (a unit whose session never
// closed) and are skipped with their labels. InvalidArgument when the lengths differ or, after
// skipping, a class is missing.
absl::StatusOr<OperatingPoint> OperatingPointFromLabels(const std::vector<double>& scores,
                                                        const std::vector<int>& labels);

// Which quantity of a transferred point a site uses.
//   score       the cut itself: alert at score >= threshold (scores must be on one scale at both sites)
//   rate        the running upper quantile of the site's own earlier scores at alert_rate
//   prevalence  the same quantile at prevalence
enum class PointUse { kScore, kRate, kPrevalence };
// "score", "rate", "prevalence".
std::string_view PointUseName(PointUse use);
// false when `name` is none of them.
bool ParsePointUse(std::string_view name, PointUse* use);

// The alert decisions of a site that applies `point` (one `use` of it) to its scores in stream order.
class TransferredCut {
 public:
  // No alert before `warmup` scores were seen (the label-free detector's warm-up).
  TransferredCut(const OperatingPoint& point, PointUse use, int64_t warmup);

  // The decision for `score` against the scores before it; then remembers it. A score below 0 ("no
  // score") never alerts and is not remembered; a score of 0 never alerts.
  bool Decide(double score);
  // The cut in force for the next score (+infinity while none is defined).
  double Threshold() const;

 private:
  OperatingPoint point_;
  PointUse use_;
  int64_t warmup_;
  std::vector<double> seen_;  // the scores so far, ascending (exact quantiles)
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_OPERATING_POINT_H_
