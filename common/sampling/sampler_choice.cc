#include "common/sampling/sampler_choice.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fedlog::sampling {

absl::string_view SamplerKindName(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kNone:
      return "none";
    case SamplerKind::kSmote:
      return "smote";
    case SamplerKind::kBorderlineSmote:
      return "borderline_smote";
    case SamplerKind::kAdasyn:
      return "adasyn";
  }
  return "unknown";
}

SamplerKind ChooseSampler(double imbalance_ratio) {
  if (!(imbalance_ratio >= 3)) return SamplerKind::kNone;
  if (imbalance_ratio <= 10) return SamplerKind::kSmote;
  if (imbalance_ratio <= 100) return SamplerKind::kBorderlineSmote;
  return SamplerKind::kAdasyn;
}

absl::StatusOr<double> ImbalanceRatio(absl::Span<const int> labels) {
  std::map<int, double> counts;
  for (int label : labels) counts[label] += 1;
  if (counts.size() != 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("imbalance ratio needs exactly two classes, got ", counts.size()));
  }
  const double a = counts.begin()->second, b = counts.rbegin()->second;
  return std::max(a, b) / std::min(a, b);
}

std::map<int, double> InverseFrequencyWeights(absl::Span<const int> labels) {
  std::map<int, double> counts;
  for (int label : labels) counts[label] += 1;
  const double n = static_cast<double>(labels.size());
  const double classes = static_cast<double>(counts.size());
  for (auto& [label, count] : counts) count = n / (classes * count);
  return counts;
}

absl::StatusOr<OversampleResult> Resample(SamplerKind kind, const FeatureMatrix& x,
                                          absl::Span<const int> y,
                                          const OversampleOptions& options) {
  switch (kind) {
    case SamplerKind::kSmote:
      return Smote(x, y, options);
    case SamplerKind::kBorderlineSmote:
      return BorderlineSmote(x, y, options);
    case SamplerKind::kAdasyn:
      return Adasyn(x, y, options);
    case SamplerKind::kNone:
      break;
  }
  if (x.rows() != y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("features have ", x.rows(), " rows, labels ", y.size()));
  }
  OversampleResult out;
  out.features = x;
  out.labels.assign(y.begin(), y.end());
  out.num_original = x.rows();
  return out;
}

}  // namespace fedlog::sampling
