#include "common/model/hybrid_support.h"

#include <algorithm>
#include <cmath>

#include "common/base/status_macros.h"
#include "common/model/embedding_dot.h"
#include "common/model/hybrid_cut.h"

namespace fedlog::model {

absl::Status HybridSupportOptions::Validate() const {
  if (weights.empty()) return absl::InvalidArgumentError("hybrid support: no candidate weight");
  for (double w : weights) {
    if (!(w >= 0 && w <= 1))
      return absl::InvalidArgumentError("hybrid support: weights must be in [0, 1]");
  }
  if (!(tie_weight >= 0 && tie_weight <= 1))
    return absl::InvalidArgumentError("hybrid support: tie_weight must be in [0, 1]");
  return absl::OkStatus();
}

absl::StatusOr<HybridSupportDetector> HybridSupportDetector::Fit(
    const std::vector<float>& support, size_t dim, const std::vector<std::vector<int64_t>>& tokens,
    const std::vector<int>& labels, const HybridSupportOptions& options) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  if (dim == 0 || labels.empty() || support.size() != labels.size() * dim ||
      tokens.size() != labels.size()) {
    return absl::InvalidArgumentError(
        "hybrid support: embeddings, token sets and labels must agree, at least 1 unit");
  }
  HybridSupportDetector d;
  d.dim_ = dim;
  d.support_ = support;
  d.tokens_ = tokens;
  for (int y : labels) d.labels_.push_back(y > 0 ? 1 : 0);
  d.weight_ = options.tie_weight;
  const auto anomalous = std::count(d.labels_.begin(), d.labels_.end(), 1);
  if (anomalous == 0 || anomalous == static_cast<long>(d.labels_.size())) return d;
  double best = -1;
  for (double w : options.weights) {
    std::vector<double> loo;
    for (size_t i = 0; i < d.labels_.size(); ++i) {
      loo.push_back(d.ScoreWith(w, support.data() + i * dim, tokens[i], static_cast<int64_t>(i)));
    }
    // score > 0, exactly: the smallest positive double is the cut.
    const double f1 = F1MacroAt(loo, d.labels_, std::nextafter(0.0, 1.0));
    const bool nearer = std::abs(w - options.tie_weight) < std::abs(d.weight_ - options.tie_weight);
    if (f1 > best || (f1 == best && nearer)) {
      best = f1;
      d.weight_ = w;
    }
  }
  d.support_f1_macro_ = best;
  return d;
}

double HybridSupportDetector::ScoreWith(double w, const float* e,
                                        const std::vector<int64_t>& tokens, int64_t skip) const {
  double best[2] = {-2, -2};  // below any similarity; a class with no unit counts as 0
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (static_cast<int64_t>(i) == skip) continue;
    double s = 0;
    if (w > 0) s += w * EmbeddingDot(e, support_.data() + i * dim_, dim_);
    if (w < 1) s += (1 - w) * TokenJaccard(tokens, tokens_[i]);
    best[labels_[i]] = std::max(best[labels_[i]], s);
  }
  for (double& b : best) b = b < -1.5 ? 0 : b;
  return best[1] - best[0];
}

}  // namespace fedlog::model
