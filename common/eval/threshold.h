// Decision-threshold selection on validation scores. A sample is predicted anomalous when score >=
// threshold, the same rule EvaluateScores applies, so a threshold chosen here transfers unchanged
// to the test split. Thread-safety: pure functions, safe to call concurrently.
#ifndef FEDLOG_COMMON_EVAL_THRESHOLD_H_
#define FEDLOG_COMMON_EVAL_THRESHOLD_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::eval {

struct ThresholdChoice {
  double threshold = 0;
  double f1 = 0;  // F1 of the anomalous class on the validation data at `threshold`
};

// Returns the threshold that maximises validation F1 of the anomalous class. Candidates are the
// distinct scores, so the sweep is exact: O(n log n). Among equally good candidates the highest
// threshold wins (fewest alerts). With no anomalous sample F1 is 0 everywhere and the threshold is
// placed just above the largest score, so nothing is flagged. InvalidArgument on empty input,
// length mismatch, labels not 0 / 1, or NaN.
absl::StatusOr<ThresholdChoice> SelectThresholdMaxF1(absl::Span<const int> labels,
                                                     absl::Span<const double> scores);

// Like SelectThresholdMaxF1, but the threshold goes to the middle of the score gap below the chosen
// candidate (every threshold in that gap has the same validation F1). When validation separates the
// classes, the candidate is the lowest anomalous score, so an unseen anomaly scoring slightly lower
// is missed; the middle of the gap leaves equal room on both sides. With no lower score the
// candidate itself is returned. Same errors as SelectThresholdMaxF1.
absl::StatusOr<ThresholdChoice> SelectThresholdMaxF1MidGap(absl::Span<const int> labels,
                                                           absl::Span<const double> scores);

}  // namespace fedlog::eval

#endif  // FEDLOG_COMMON_EVAL_THRESHOLD_H_
