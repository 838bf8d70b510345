// L2-regularised logistic regression trained by full-batch Nesterov-accelerated gradient descent
// with step 1/L, where L bounds the curvature of the loss (estimated by power iteration), so no
// learning rate needs tuning. Features are standardised internally with statistics of the training
// rows, so raw feature matrices are fine. Loss: weighted mean log-loss + l2 / 2 * |w|^2 (the bias
// is not penalised). Thread-compatible: Fit mutates; Score is const.
#ifndef FEDLOG_COMMON_CLASSIC_LOGISTIC_REGRESSION_H_
#define FEDLOG_COMMON_CLASSIC_LOGISTIC_REGRESSION_H_

#include <string>
#include <vector>

#include "common/classic/classifier.h"

namespace fedlog::classic {

struct LogisticRegressionOptions {
  double l2 = 1e-3;         // ridge penalty on the weights
  int iterations = 300;     // gradient steps
  double tolerance = 1e-7;  // stop early when the loss improves by less than this over 10 steps
};

class LogisticRegression : public BinaryClassifier {
 public:
  explicit LogisticRegression(LogisticRegressionOptions options = {}) : options_(options) {}

  absl::Status Fit(const DenseMatrix& x, absl::Span<const int> y,
                   absl::Span<const float> weights) override;
  absl::StatusOr<std::vector<double>> Score(const DenseMatrix& x) const override;
  std::string name() const override { return "logreg"; }

  // Weights in the standardised feature space, and the bias; empty before Fit.
  const std::vector<double>& coefficients() const { return coef_; }
  double bias() const { return bias_; }
  // Final training objective (weighted mean log-loss + penalty) and the steps taken.
  double final_loss() const { return final_loss_; }
  int iterations_run() const { return iterations_run_; }

 private:
  double Margin(const float* row) const;

  LogisticRegressionOptions options_;
  std::vector<double> mean_, inv_std_, coef_;
  double bias_ = 0;
  double final_loss_ = 0;
  int iterations_run_ = 0;
};

}  // namespace fedlog::classic

#endif  // FEDLOG_COMMON_CLASSIC_LOGISTIC_REGRESSION_H_
