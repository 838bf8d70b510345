#include "common/model/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fedlog::model {
namespace {

double Sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

}  // namespace

double PlattScaling::Apply(double s) const { return Sigmoid(a * s + b); }

absl::StatusOr<PlattScaling> FitPlatt(const std::vector<float>& scores,
                                      const std::vector<int>& labels) {
  if (scores.size() != labels.size())
    return absl::InvalidArgumentError("scores and labels differ in length");
  double pos = 0, neg = 0;
  for (int y : labels) (y > 0 ? pos : neg) += 1;
  if (pos == 0 || neg == 0) return absl::InvalidArgumentError("Platt scaling needs both classes");
  const double t_pos = (pos + 1) / (pos + 2), t_neg = 1 / (neg + 2);
  // Newton with backtracking line search (Lin, Lin & Weng 2007): plain Newton diverges when the
  // start saturates the sigmoid and the Hessian is nearly singular.
  auto objective = [&](double a, double b) {
    double f = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      const double z = a * scores[i] + b, t = labels[i] > 0 ? t_pos : t_neg;
      // -[t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))], written to stay finite for large |z|.
      f += z >= 0 ? (1 - t) * z + std::log1p(std::exp(-z)) : -t * z + std::log1p(std::exp(z));
    }
    return f;
  };
  // Start from the smoothed prior, P(anomalous) = (pos + 1) / (pos + neg + 2) on every score. Platt
  // and Lin et al. write p = 1 / (1 + exp(A s + B)), so their B starts at log((neg + 1) / (pos +
  // 1)); here p = sigmoid(a s + b) and b = -B. With the sign flipped the start predicted the rare
  // class almost everywhere, and on imbalanced, separable scores (5 anomalous of 1,000) the first
  // Newton step overshot to where every sigmoid saturates, the Hessian vanished and the line search
  // gave up there: every calibrated score 0.
  PlattScaling p;
  p.a = 0.0;
  p.b = std::log((pos + 1) / (neg + 1));
  double f = objective(p.a, p.b);
  for (int iter = 0; iter < 100; ++iter) {
    double g_a = 0, g_b = 0, h_aa = 1e-12, h_ab = 0, h_bb = 1e-12;
    for (size_t i = 0; i < scores.size(); ++i) {
      const double s = scores[i], t = labels[i] > 0 ? t_pos : t_neg;
      const double q = p.Apply(s), w = q * (1 - q);
      g_a += (q - t) * s;
      g_b += q - t;
      h_aa += w * s * s;
      h_ab += w * s;
      h_bb += w;
    }
    if (std::abs(g_a) < 1e-7 && std::abs(g_b) < 1e-7) break;
    const double det = h_aa * h_bb - h_ab * h_ab;
    const double da = -(h_bb * g_a - h_ab * g_b) / det, db = -(h_aa * g_b - h_ab * g_a) / det;
    const double slope = g_a * da + g_b * db;
    double step = 1.0;
    while (step >= 1e-10) {
      const double f_new = objective(p.a + step * da, p.b + step * db);
      if (f_new < f + 1e-4 * step * slope) {
        p.a += step * da;
        p.b += step * db;
        f = f_new;
        break;
      }
      step /= 2;
    }
    if (step < 1e-10) break;  // no further decrease possible
  }
  if (!std::isfinite(p.a) || !std::isfinite(p.b)) return absl::InternalError("Platt fit diverged");
  return p;
}

absl::StatusOr<ThresholdChoice> MaxF1Threshold(const std::vector<float>& probs,
                                               const std::vector<int>& labels) {
  if (probs.size() != labels.size())
    return absl::InvalidArgumentError("probs and labels differ in length");
  std::vector<size_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return probs[x] > probs[y]; });
  const double total_pos = std::count_if(labels.begin(), labels.end(), [](int y) { return y > 0; });
  if (total_pos == 0)
    return absl::InvalidArgumentError("threshold choice needs at least one anomalous label");
  ThresholdChoice best;
  best.f1 = -1;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    (labels[order[i]] > 0 ? tp : fp) += 1;
    // Only cut between distinct probabilities: equal scores must fall on the same side.
    if (i + 1 < order.size() && probs[order[i + 1]] == probs[order[i]]) continue;
    const double f1 = 2 * tp / (2 * tp + fp + (total_pos - tp));
    if (f1 > best.f1) {
      best.f1 = f1;
      best.threshold = probs[order[i]];
    }
  }
  return best;
}

}  // namespace fedlog::model
