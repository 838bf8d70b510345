// fedlog::classic: the classical (non-neural) anomaly detectors that give every evaluation table a
// strong, simple reference row: gradient-boosted trees (XgboostModel, via libxgboost) and
// L2-regularised logistic regression (LogisticRegression, written here). Both learn a binary rule
// on dense feature rows (label 1 = anomalous) and return real-valued scores, higher = more
// anomalous, to be thresholded by common/eval. BinaryClassifier is the interface the evaluation
// harness (tools/offline/eval_detect*) trains through. Thread-compatible: Fit mutates; Score is
// const and may be called concurrently after Fit.
#ifndef FEDLOG_COMMON_CLASSIC_CLASSIFIER_H_
#define FEDLOG_COMMON_CLASSIC_CLASSIFIER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/base/dense_matrix.h"

namespace fedlog::classic {

class BinaryClassifier {
 public:
  virtual ~BinaryClassifier() = default;
  // Trains on the rows of `x` with labels `y` (0/1) and optional per-row weights (empty: all 1).
  // Replaces any earlier fit. InvalidArgument for mismatched sizes, labels other than 0/1, a single
  // class, non-finite features or negative weights.
  virtual absl::Status Fit(const DenseMatrix& x, absl::Span<const int> y,
                           absl::Span<const float> weights) = 0;
  // One score per row of `x`, in [0, 1] (probability of the anomalous class). FailedPrecondition
  // before Fit; InvalidArgument when the width differs from the training data.
  virtual absl::StatusOr<std::vector<double>> Score(const DenseMatrix& x) const = 0;
  // Short name for reports: "xgboost", "logreg".
  virtual std::string name() const = 0;
};

// The checks every Fit starts with (see BinaryClassifier::Fit).
absl::Status ValidateTrainingData(const DenseMatrix& x, absl::Span<const int> y,
                                  absl::Span<const float> weights);

}  // namespace fedlog::classic

#endif  // FEDLOG_COMMON_CLASSIC_CLASSIFIER_H_
