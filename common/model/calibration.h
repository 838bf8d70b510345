// Score calibration and threshold choice for few-shot detectors. Torch-free (a handful of scalars),
// so it is cheap to test and reuse from evaluation tools. Thread-compatible.
#ifndef FEDLOG_COMMON_MODEL_CALIBRATION_H_
#define FEDLOG_COMMON_MODEL_CALIBRATION_H_

#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::model {

// p = sigmoid(a * s + b) over a raw score s (a logit-like margin).
struct PlattScaling {
  double a = 1.0;
  double b = 0.0;
  double Apply(double s) const;
};

// Fits a, b by Newton's method on the log-loss with Platt's smoothed targets (which keeps the fit
// finite on separable data). labels are 0/1. InvalidArgument on size mismatch or when a class is
// absent.
absl::StatusOr<PlattScaling> FitPlatt(const std::vector<float>& scores,
                                      const std::vector<int>& labels);

struct ThresholdChoice {
  float threshold = 0.5f;  // predict anomalous when probability >= threshold
  double f1 = 0.0;         // F1 of the anomalous class at that threshold on the given labels
};

// The threshold among the observed probabilities that maximises F1 (ties: the higher threshold,
// which raises fewer alerts). labels are 0/1 with at least one positive.
absl::StatusOr<ThresholdChoice> MaxF1Threshold(const std::vector<float>& probs,
                                               const std::vector<int>& labels);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_CALIBRATION_H_
