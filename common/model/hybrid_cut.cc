#include "common/model/hybrid_cut.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace fedlog::model {
namespace {

constexpr double kStrict = 1e-9;  // `score >= offset + kStrict`: the 1-NN's strict comparison

}  // namespace

double F1MacroAt(const std::vector<double>& scores, const std::vector<int>& labels,
                 double threshold) {
  double tp = 0, fp = 0, fn = 0, tn = 0;
  const size_t n = std::min(scores.size(), labels.size());
  for (size_t i = 0; i < n; ++i) {
    const bool alert = scores[i] >= threshold;
    if (labels[i] > 0) {
      (alert ? tp : fn) += 1;
    } else {
      (alert ? fp : tn) += 1;
    }
  }
  const double f1_pos = tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
  const double f1_neg = tn > 0 ? 2 * tn / (2 * tn + fn + fp) : 0;
  return (f1_pos + f1_neg) / 2;
}

double CutForAlertCount(const std::vector<double>& scores, size_t n, CountTies ties) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (scores.empty()) return kInf;
  std::vector<double> sorted(scores);
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  if (n == 0) return std::nextafter(sorted.front(), kInf);
  if (n >= sorted.size()) return sorted.back();
  const double nth = sorted[n - 1];
  if (sorted[n] != nth) return nth;
  // A tie across the boundary: `above` scores beat the block, `with_block` include it.
  const size_t above = static_cast<size_t>(
      std::lower_bound(sorted.begin(), sorted.end(), nth, std::greater<double>()) - sorted.begin());
  const size_t with_block = static_cast<size_t>(
      std::upper_bound(sorted.begin(), sorted.end(), nth, std::greater<double>()) - sorted.begin());
  const bool include = ties == CountTies::kNearest && with_block - n < n - above;
  return include ? nth : std::nextafter(nth, kInf);
}

absl::StatusOr<OffsetTally> OffsetTally::Create(std::vector<double> weights,
                                                std::vector<double> offsets) {
  if (weights.empty() || offsets.empty())
    return absl::InvalidArgumentError("offset tally: needs at least one weight and one offset");
  for (double v : weights) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("offset tally: weight not finite");
  }
  for (double v : offsets) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("offset tally: offset not finite");
  }
  OffsetTally t;
  t.sum_.assign(weights.size(), std::vector<double>(offsets.size(), 0.0));
  t.count_.assign(weights.size(), 0);
  t.weights_ = std::move(weights);
  t.offsets_ = std::move(offsets);
  return t;
}

absl::Status OffsetTally::Add(size_t wi, const std::vector<double>& scores,
                              const std::vector<int>& labels) {
  if (wi >= weights_.size()) return absl::InvalidArgumentError("offset tally: no such weight");
  if (scores.size() != labels.size())
    return absl::InvalidArgumentError("offset tally: scores and labels differ in size");
  for (size_t oi = 0; oi < offsets_.size(); ++oi) {
    sum_[wi][oi] += F1MacroAt(scores, labels, offsets_[oi] + kStrict);
  }
  ++count_[wi];
  return absl::OkStatus();
}

double OffsetTally::Mean(size_t wi, size_t oi) const {
  if (wi >= weights_.size() || oi >= offsets_.size() || count_[wi] == 0) return -1;
  return sum_[wi][oi] / count_[wi];
}

absl::StatusOr<double> OffsetTally::BestOffset(double w) const {
  const auto it = std::find(weights_.begin(), weights_.end(), w);
  if (it == weights_.end()) return absl::NotFoundError("offset tally: weight not in the grid");
  const size_t wi = static_cast<size_t>(it - weights_.begin());
  if (count_[wi] == 0)
    return absl::FailedPreconditionError("offset tally: no pseudo-target for this weight");
  size_t best = 0;
  for (size_t oi = 1; oi < offsets_.size(); ++oi) {
    const bool nearer = std::abs(offsets_[oi]) < std::abs(offsets_[best]);
    if (sum_[wi][oi] > sum_[wi][best] || (sum_[wi][oi] == sum_[wi][best] && nearer)) best = oi;
  }
  return offsets_[best];
}

std::vector<double> DefaultCutOffsets() {
  return {-0.05, -0.02, 0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3};
}

}  // namespace fedlog::model
