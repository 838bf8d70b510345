#include "common/classic/logistic_regression.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace fedlog::classic {
namespace {

// Standardised training data with a trailing bias column of ones, and normalised row weights (sum
// 1).
struct Problem {
  int64_t n = 0;
  int64_t d = 0;  // features + 1 (bias)
  std::vector<double> x;
  std::vector<double> w;
  std::vector<int> y;
};

double Sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

// log(1 + exp(-m)) for label 1, log(1 + exp(m)) for label 0, stably.
double LogLoss(double margin, int y) {
  const double z = y == 1 ? -margin : margin;
  return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
}

// Objective and gradient at `theta` (last entry = bias, not penalised).
double LossAndGradient(const Problem& p, double l2, const std::vector<double>& theta,
                       std::vector<double>* grad) {
  std::fill(grad->begin(), grad->end(), 0.0);
  double loss = 0;
  for (int64_t i = 0; i < p.n; ++i) {
    const double* row = &p.x[static_cast<size_t>(i * p.d)];
    const double m = std::inner_product(row, row + p.d, theta.begin(), 0.0);
    loss += p.w[i] * LogLoss(m, p.y[i]);
    const double g = p.w[i] * (Sigmoid(m) - p.y[i]);
    for (int64_t j = 0; j < p.d; ++j) (*grad)[j] += g * row[j];
  }
  for (int64_t j = 0; j + 1 < p.d; ++j) {
    loss += 0.5 * l2 * theta[j] * theta[j];
    (*grad)[j] += l2 * theta[j];
  }
  return loss;
}

// Largest eigenvalue of X^T diag(w) X by power iteration: 0.25 times it bounds the log-loss
// curvature.
double CurvatureBound(const Problem& p) {
  std::vector<double> v(static_cast<size_t>(p.d), 1.0 / std::sqrt(static_cast<double>(p.d))),
      next(v.size());
  double lambda = 1.0;
  for (int it = 0; it < 30; ++it) {
    std::fill(next.begin(), next.end(), 0.0);
    for (int64_t i = 0; i < p.n; ++i) {
      const double* row = &p.x[static_cast<size_t>(i * p.d)];
      const double s = p.w[i] * std::inner_product(row, row + p.d, v.begin(), 0.0);
      for (int64_t j = 0; j < p.d; ++j) next[j] += s * row[j];
    }
    lambda = std::sqrt(std::inner_product(next.begin(), next.end(), next.begin(), 0.0));
    if (lambda <= 0) return 1.0;
    for (size_t j = 0; j < v.size(); ++j) v[j] = next[j] / lambda;
  }
  return lambda * 1.05;  // power iteration approaches from below; keep a margin
}

}  // namespace

absl::Status LogisticRegression::Fit(const DenseMatrix& x, absl::Span<const int> y,
                                     absl::Span<const float> weights) {
  if (absl::Status s = ValidateTrainingData(x, y, weights); !s.ok()) return s;
  if (options_.iterations < 1 || options_.l2 < 0) {
    return absl::InvalidArgumentError("LogisticRegression: iterations must be >= 1 and l2 >= 0");
  }
  Problem p;
  p.n = x.rows;
  p.d = x.cols + 1;
  mean_.assign(static_cast<size_t>(x.cols), 0.0);
  inv_std_.assign(static_cast<size_t>(x.cols), 0.0);
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) mean_[j] += x.Row(i)[j];
  for (double& m : mean_) m /= static_cast<double>(x.rows);
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) inv_std_[j] += std::pow(x.Row(i)[j] - mean_[j], 2);
  for (double& s : inv_std_) s = s > 1e-12 * x.rows ? 1.0 / std::sqrt(s / x.rows) : 1.0;
  p.x.resize(static_cast<size_t>(p.n * p.d));
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t j = 0; j < x.cols; ++j) p.x[i * p.d + j] = (x.Row(i)[j] - mean_[j]) * inv_std_[j];
    p.x[i * p.d + x.cols] = 1.0;
  }
  p.y.assign(y.begin(), y.end());
  p.w.assign(static_cast<size_t>(p.n), 1.0);
  if (!weights.empty()) std::copy(weights.begin(), weights.end(), p.w.begin());
  const double wsum = std::accumulate(p.w.begin(), p.w.end(), 0.0);
  if (wsum <= 0) return absl::InvalidArgumentError("LogisticRegression: weights sum to 0");
  for (double& w : p.w) w /= wsum;

  const double step = 1.0 / (0.25 * CurvatureBound(p) + options_.l2);
  std::vector<double> theta(static_cast<size_t>(p.d), 0.0), prev = theta, look(theta.size()),
                                                            grad(theta.size());
  double loss = 0, loss_10_ago = INFINITY;
  int it = 0;
  for (; it < options_.iterations; ++it) {
    const double momentum = static_cast<double>(it) / (it + 3.0);
    for (size_t j = 0; j < theta.size(); ++j) look[j] = theta[j] + momentum * (theta[j] - prev[j]);
    loss = LossAndGradient(p, options_.l2, look, &grad);
    prev = theta;
    for (size_t j = 0; j < theta.size(); ++j) theta[j] = look[j] - step * grad[j];
    if (it % 10 == 9) {
      if (loss_10_ago - loss < options_.tolerance) break;
      loss_10_ago = loss;
    }
  }
  final_loss_ = LossAndGradient(p, options_.l2, theta, &grad);
  iterations_run_ = std::min(it + 1, options_.iterations);
  coef_.assign(theta.begin(), theta.end() - 1);
  bias_ = theta.back();
  return absl::OkStatus();
}

double LogisticRegression::Margin(const float* row) const {
  double m = bias_;
  for (size_t j = 0; j < coef_.size(); ++j) m += coef_[j] * (row[j] - mean_[j]) * inv_std_[j];
  return m;
}

absl::StatusOr<std::vector<double>> LogisticRegression::Score(const DenseMatrix& x) const {
  if (coef_.empty()) return absl::FailedPreconditionError("LogisticRegression: Score before Fit");
  if (x.cols != static_cast<int64_t>(coef_.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("LogisticRegression: ", x.cols, " columns, trained on ", coef_.size()));
  }
  std::vector<double> out(static_cast<size_t>(x.rows));
  for (int64_t i = 0; i < x.rows; ++i) out[i] = Sigmoid(Margin(x.Row(i)));
  return out;
}

}  // namespace fedlog::classic
