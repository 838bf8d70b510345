#include "common/model/prototype_prior.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedlog::model {
namespace {

// `v` scaled to unit norm; empty when it is zero or not finite.
std::vector<float> UnitOrEmpty(std::vector<double> v) {
  double norm = 0;
  for (double x : v) norm += x * x;
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return {};
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] / norm);
  return out;
}

double Dot(const std::vector<float>& a, const float* b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// The mid-rank quantile of x among `sorted` (ascending, non-empty).
double MidRank(const std::vector<double>& sorted, double x) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), x);
  const auto hi = std::upper_bound(lo, sorted.end(), x);
  return (static_cast<double>(lo - sorted.begin()) + static_cast<double>(hi - sorted.begin())) /
         (2.0 * static_cast<double>(sorted.size()));
}

}  // namespace

absl::Status PrototypePriorOptions::Validate() const {
  if (!(prior_count > 0) || !std::isfinite(prior_count)) {
    return absl::InvalidArgumentError("prototype prior: prior_count must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<PrototypePrior> PrototypePrior::Fit(absl::Span<const float> global, size_t dim,
                                                   absl::Span<const float> support,
                                                   const std::vector<int>& labels,
                                                   const PrototypePriorOptions& options) {
  if (auto st = options.Validate(); !st.ok()) return st;
  if (dim == 0) return absl::InvalidArgumentError("prototype prior: dim must be >= 1");
  if (!global.empty() && global.size() != 2 * dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("prototype prior: global prototypes hold ", global.size(), " values, not ", 2 * dim));
  }
  if (support.size() != labels.size() * dim) {
    return absl::InvalidArgumentError("prototype prior: support and labels disagree in size");
  }
  PrototypePrior p;
  p.dim_ = dim;
  for (int c = 0; c < 2; ++c) {
    std::vector<double> sum(dim, 0.0);
    double count = 0;
    if (!global.empty()) {
      const size_t at = static_cast<size_t>(c) * dim;
      std::vector<double> g(global.begin() + at, global.begin() + at + dim);
      const std::vector<float> unit = UnitOrEmpty(g);
      for (size_t j = 0; j < unit.size(); ++j) sum[j] += options.prior_count * unit[j];
      if (!unit.empty()) count += options.prior_count;
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      if ((labels[i] > 0 ? 1 : 0) != c) continue;
      const float* z = support.data() + i * dim;
      bool finite = true;
      for (size_t j = 0; j < dim; ++j) finite = finite && std::isfinite(z[j]);
      if (!finite) continue;
      for (size_t j = 0; j < dim; ++j) sum[j] += z[j];
      count += 1;
    }
    // The direction of the weighted mean is all the score uses, so the division by count is moot.
    if (count > 0) p.unit_[c] = UnitOrEmpty(std::move(sum));
  }
  p.ready_ = !p.unit_[0].empty() && !p.unit_[1].empty();
  return p;
}

double PrototypePrior::Score(const float* z) const {
  if (!ready_) return 0.0;
  double norm = 0;
  for (size_t j = 0; j < dim_; ++j) norm += static_cast<double>(z[j]) * z[j];
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return 0.0;
  return (Dot(unit_[1], z) - Dot(unit_[0], z)) / norm;
}

absl::StatusOr<std::vector<double>> RankFuse(const std::vector<double>& base,
                                             const std::vector<double>& prior, double weight,
                                             const std::vector<size_t>& reference) {
  if (!(weight >= 0 && weight <= 1)) return absl::InvalidArgumentError("rank fuse: weight must be in [0, 1]");
  if (!prior.empty() && prior.size() != base.size()) {
    return absl::InvalidArgumentError("rank fuse: base and prior disagree in size");
  }
  if (reference.empty()) return absl::InvalidArgumentError("rank fuse: empty reference");
  std::vector<double> ref_base, ref_prior;
  for (size_t u : reference) {
    if (u >= base.size()) return absl::InvalidArgumentError("rank fuse: reference index out of range");
    ref_base.push_back(base[u]);
    if (!prior.empty()) ref_prior.push_back(prior[u]);
  }
  std::sort(ref_base.begin(), ref_base.end());
  std::sort(ref_prior.begin(), ref_prior.end());
  std::vector<double> out(base.size());
  for (size_t u = 0; u < base.size(); ++u) {
    const double qb = MidRank(ref_base, base[u]);
    out[u] = prior.empty() ? qb : (1.0 - weight) * qb + weight * MidRank(ref_prior, prior[u]);
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> RateMatchedAlerts(const std::vector<double>& score,
                                                       const std::vector<uint8_t>& free_alert,
                                                       size_t window) {
  if (window == 0) return absl::InvalidArgumentError("rate-matched alerts: window must be >= 1");
  if (score.size() != free_alert.size()) {
    return absl::InvalidArgumentError("rate-matched alerts: score and free_alert disagree in size");
  }
  std::vector<uint8_t> out(score.size(), 0);
  std::vector<double> sorted;  // the window's scores, ascending
  size_t alerts = 0;           // label-free alerts in the window
  for (size_t i = 0; i < score.size(); ++i) {
    if (alerts > 0 && !sorted.empty()) {
      const double cut = sorted[sorted.size() - std::min(alerts, sorted.size())];
      out[i] = score[i] >= cut ? 1 : 0;
    }
    sorted.insert(std::upper_bound(sorted.begin(), sorted.end(), score[i]), score[i]);
    alerts += free_alert[i] ? 1 : 0;
    if (i >= window) {
      const size_t old = i - window;
      sorted.erase(std::lower_bound(sorted.begin(), sorted.end(), score[old]));
      alerts -= free_alert[old] ? 1 : 0;
    }
  }
  return out;
}

}  // namespace fedlog::model
