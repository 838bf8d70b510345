// Metrics for binary anomaly detection: label 1 = anomalous (the positive class), label 0 = normal.
// Threshold metrics (precision, recall, F1, F1-macro, balanced accuracy, MCC) come from a confusion
// matrix; ranking metrics (AUROC, average precision) come from real-valued scores where higher =
// more anomalous.
//
// Degenerate inputs never produce NaN; the conventions follow scikit-learn with zero_division=0:
//   - a ratio whose denominator is 0 (precision with no predicted positives, recall with no
//   positives, F1 when
//     precision + recall = 0, MCC when any marginal is 0) is 0;
//   - balanced accuracy averages the recall of the classes present in the labels (one class
//   present: its recall;
//     no samples: 0);
//   - AUROC and average precision need both classes; with one class absent they are reported as 0.5
//   and 0.0
//     respectively and BinaryMetrics::ranking_defined is false, so reports can flag them.
// Thread-safety: pure functions, safe to call concurrently.
#ifndef FEDLOG_COMMON_EVAL_METRICS_H_
#define FEDLOG_COMMON_EVAL_METRICS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::eval {

struct ConfusionMatrix {
  int64_t tp = 0;  // anomalous, predicted anomalous
  int64_t fp = 0;  // normal, predicted anomalous
  int64_t tn = 0;  // normal, predicted normal
  int64_t fn = 0;  // anomalous, predicted normal

  int64_t Total() const { return tp + fp + tn + fn; }
  bool operator==(const ConfusionMatrix&) const = default;
};

// Counts outcomes. InvalidArgument when the spans differ in length or hold a value other than 0
// / 1.
absl::StatusOr<ConfusionMatrix> ComputeConfusion(absl::Span<const int> labels,
                                                 absl::Span<const int> predictions);

// Threshold metrics of the anomalous class (see the file comment for the zero-denominator
// conventions).
double Precision(const ConfusionMatrix& cm);
double Recall(const ConfusionMatrix& cm);
double F1(const ConfusionMatrix& cm);
// F1 of the normal class (class 0 treated as positive).
double F1Normal(const ConfusionMatrix& cm);
// Unweighted mean of the F1 of both classes.
double F1Macro(const ConfusionMatrix& cm);
double BalancedAccuracy(const ConfusionMatrix& cm);
// Matthews correlation coefficient in [-1, 1].
double Mcc(const ConfusionMatrix& cm);

// Area under the ROC curve via the Mann-Whitney U statistic; tied scores get the average of their
// ranks, so a tie between a positive and a negative counts one half. Returns 0.5 when either class
// is absent. InvalidArgument on length mismatch, labels other than 0 / 1, or NaN scores.
absl::StatusOr<double> Auroc(absl::Span<const int> labels, absl::Span<const double> scores);

// Average precision (area under the precision-recall curve, step-wise as in scikit-learn):
// sum over distinct score thresholds t (descending) of (R(t) - R(previous t)) * P(t); samples with
// tied scores enter together. Returns 0.0 when there are no positives. Errors as for Auroc.
absl::StatusOr<double> AveragePrecision(absl::Span<const int> labels,
                                        absl::Span<const double> scores);

struct BinaryMetrics {
  ConfusionMatrix confusion;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  double f1_macro = 0;
  double balanced_accuracy = 0;
  double mcc = 0;
  double auroc = 0.5;
  double pr_auc = 0;
  // False when the labels hold one class only: auroc / pr_auc then carry the conventional values
  // above.
  bool ranking_defined = false;
};

// Fills every threshold metric from the confusion matrix; leaves the ranking metrics at their
// defaults.
BinaryMetrics MetricsFromConfusion(const ConfusionMatrix& cm);

// All metrics for scores; a sample is predicted anomalous when score >= threshold.
absl::StatusOr<BinaryMetrics> EvaluateScores(absl::Span<const int> labels,
                                             absl::Span<const double> scores, double threshold);

// Threshold metrics for hard predictions (ranking metrics use the predictions as scores).
absl::StatusOr<BinaryMetrics> EvaluatePredictions(absl::Span<const int> labels,
                                                  absl::Span<const int> predictions);

}  // namespace fedlog::eval

#endif  // FEDLOG_COMMON_EVAL_METRICS_H_
