// Picking an imbalance remedy per site from its class counts, and class weights for weighted
// losses. The rule follows the published cross-source study: below 3:1 leave the data alone, 3:1 to
// 10:1 SMOTE, above 10:1 up to 100:1 BorderlineSMOTE, above 100:1 ADASYN (boundaries belong to the
// lower band). Thread-safety: pure functions, safe to call concurrently.
#ifndef FEDLOG_COMMON_SAMPLING_SAMPLER_CHOICE_H_
#define FEDLOG_COMMON_SAMPLING_SAMPLER_CHOICE_H_

#include <map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/sampling/feature_matrix.h"
#include "common/sampling/oversample.h"

namespace fedlog::sampling {

enum class SamplerKind { kNone, kSmote, kBorderlineSmote, kAdasyn };

// "none", "smote", "borderline_smote", "adasyn".
absl::string_view SamplerKindName(SamplerKind kind);

// imbalance_ratio = majority count / minority count (>= 1). Ratios below 3 (and NaN) give kNone.
SamplerKind ChooseSampler(double imbalance_ratio);

// Majority count / minority count over the labels. FailedPrecondition unless exactly two labels
// occur.
absl::StatusOr<double> ImbalanceRatio(absl::Span<const int> labels);

// Inverse-frequency ("balanced") weights: w_c = n / (C * n_c) for each of the C labels present, so
// the weighted class totals are equal and the mean weight per sample is 1. Empty labels give an
// empty map.
std::map<int, double> InverseFrequencyWeights(absl::Span<const int> labels);

// Runs the oversampler of `kind`; kNone returns the input unchanged (no synthetic rows).
absl::StatusOr<OversampleResult> Resample(SamplerKind kind, const FeatureMatrix& x,
                                          absl::Span<const int> y,
                                          const OversampleOptions& options);

}  // namespace fedlog::sampling

#endif  // FEDLOG_COMMON_SAMPLING_SAMPLER_CHOICE_H_
