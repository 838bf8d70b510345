#include "common/novelty/operating_point.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/novelty/site_threshold.h"

namespace fedlog::novelty {

absl::StatusOr<OperatingPoint> OperatingPointFromLabels(const std::vector<double>& scores,
                                                        const std::vector<int>& labels) {
  if (scores.size() != labels.size()) {
    return absl::InvalidArgumentError(absl::StrCat("operating point: ", scores.size(), " scores but ",
                                                   labels.size(), " labels"));
  }
  std::vector<double> s;
  std::vector<int> y;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!(scores[i] >= 0)) continue;  // no score (also NaN)
    s.push_back(scores[i]);
    y.push_back(labels[i] > 0 ? 1 : 0);
  }
  OperatingPoint p;
  p.units = static_cast<int64_t>(s.size());
  p.anomalous = std::count(y.begin(), y.end(), 1);
  if (p.anomalous == 0 || p.anomalous == p.units) {
    return absl::InvalidArgumentError(absl::StrCat("operating point: the ", p.units,
                                                   " scored labelled units need both classes (", p.anomalous,
                                                   " anomalous)"));
  }
  MaxF1Threshold(s, y, &p.threshold, &p.f1);
  const auto at_or_above = std::count_if(s.begin(), s.end(), [&](double v) { return v >= p.threshold; });
  p.alert_rate = static_cast<double>(at_or_above) / static_cast<double>(p.units);
  p.prevalence = static_cast<double>(p.anomalous) / static_cast<double>(p.units);
  return p;
}

std::string_view PointUseName(PointUse use) {
  switch (use) {
    case PointUse::kScore: return "score";
    case PointUse::kRate: return "rate";
    case PointUse::kPrevalence: return "prevalence";
  }
  return "score";
}

bool ParsePointUse(std::string_view name, PointUse* use) {
  for (PointUse u : {PointUse::kScore, PointUse::kRate, PointUse::kPrevalence}) {
    if (name == PointUseName(u)) {
      *use = u;
      return true;
    }
  }
  return false;
}

TransferredCut::TransferredCut(const OperatingPoint& point, PointUse use, int64_t warmup)
    : point_(point), use_(use), warmup_(warmup) {}

double TransferredCut::Threshold() const {
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t n = static_cast<int64_t>(seen_.size());
  if (n < warmup_ || n == 0) return inf;
  if (use_ == PointUse::kScore) return point_.threshold;
  const double rate = use_ == PointUse::kRate ? point_.alert_rate : point_.prevalence;
  if (!(rate > 0)) return inf;
  // The lowest score among the top `rate` share of the earlier scores (at least one of them).
  const int64_t top = std::max<int64_t>(1, static_cast<int64_t>(std::floor(rate * static_cast<double>(n))));
  return seen_[static_cast<size_t>(n - std::min(top, n))];
}

bool TransferredCut::Decide(double score) {
  if (!(score >= 0)) return false;
  const bool alert = score > 0 && score >= Threshold();
  seen_.insert(std::upper_bound(seen_.begin(), seen_.end(), score), score);
  return alert;
}

}  // namespace fedlog::novelty
