#include "common/privacy/class_sums.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::privacy {

bool IsValidClassSumNoise(double stddev) {
  return std::isfinite(stddev) && stddev >= kMinClassSumNoise && stddev <= kMaxClassSumNoise;
}

double ClassSumSensitivity(ClassSumForm form) {
  return form == ClassSumForm::kDirections ? 1.0 : kClassSumSensitivity;
}

MechanismStep ClassSumStep(double stddev, ClassSumForm form) {
  MechanismStep step;
  step.sampling_rate = 1.0;
  step.noise_multiplier = stddev / ClassSumSensitivity(form);
  step.steps = 1;
  return step;
}

absl::StatusOr<std::vector<float>> ClassSums(absl::Span<const float> embeddings, int64_t dim,
                                             absl::Span<const int> labels, ClassSumForm form) {
  if (dim < 1 || static_cast<int64_t>(embeddings.size()) != dim * static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError("class sums: embeddings must be one row of dim values per label");
  }
  std::vector<double> acc(static_cast<size_t>(2 * (dim + 1)), 0.0);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    const float* row = embeddings.data() + static_cast<int64_t>(i) * dim;
    double norm2 = 0;
    for (int64_t j = 0; j < dim; ++j) norm2 += static_cast<double>(row[j]) * row[j];
    if (!std::isfinite(norm2)) return absl::InvalidArgumentError("class sums: an embedding is not finite");
    const double scale = norm2 > 1.0 ? 1.0 / std::sqrt(norm2) : 1.0;  // clip to the unit ball
    double* out = acc.data() + (labels[i] > 0 ? dim + 1 : 0);
    for (int64_t j = 0; j < dim; ++j) out[j] += scale * row[j];
    if (form == ClassSumForm::kSumsAndCounts) out[dim] += 1.0;
  }
  return std::vector<float>(acc.begin(), acc.end());
}

absl::Status NoiseClassSums(absl::Span<float> release, double stddev, GaussianSampler& sampler, int shares,
                            ClassSumForm form, int64_t dim) {
  if (!IsValidClassSumNoise(stddev) || shares < 1) {
    return absl::InvalidArgumentError(absl::StrCat("class-sum noise must be in [", kMinClassSumNoise, ", ",
                                                   kMaxClassSumNoise, "], shared by >= 1 site"));
  }
  const double share = ClassSumShareStddev(stddev, shares);
  if (form == ClassSumForm::kSumsAndCounts) {
    sampler.AddNoise(release, share);
    return absl::OkStatus();
  }
  const size_t row = static_cast<size_t>(dim) + 1;
  if (dim < 1 || release.size() % row != 0) {
    return absl::InvalidArgumentError("class sums: a directions release must be rows of dim + 1 values");
  }
  for (size_t start = 0; start < release.size(); start += row) {  // the sums; the count column stays 0
    sampler.AddNoise(release.subspan(start, row - 1), share);
  }
  return absl::OkStatus();
}

absl::Status ScaleToWeight(absl::Span<float> release, int64_t weight) {
  if (weight < 1) return absl::InvalidArgumentError("class sums: the update's weight must be >= 1");
  for (float& v : release) v = static_cast<float>(static_cast<double>(v) / static_cast<double>(weight));
  return absl::OkStatus();
}

double ClassSumShareStddev(double stddev, int shares) {
  return shares > 1 ? stddev / std::sqrt(static_cast<double>(shares)) : stddev;
}

double MinReleaseWeight(double clip_range, double count_noise, double share_stddev) {
  if (!(clip_range > 1)) return std::numeric_limits<double>::infinity();
  return kReleaseTailSigmas * (count_noise + share_stddev) / (clip_range - 1);
}

absl::Status CheckReleaseFitsRange(double clip_range, int64_t weight, double count_noise, double share_stddev) {
  const double least = MinReleaseWeight(clip_range, count_noise, share_stddev);
  if (!(static_cast<double>(weight) >= least)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "class-sum release: the released weight ", weight, " is below ", least, ", the least at which the clip range ",
        clip_range, " holds the noise share (stddev ", share_stddev, "); refusing to mask (docs/PRIVACY.md)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ClassSumNoiseForShare(double target_epsilon, double share, int64_t releases,
                                             double delta, ClassSumForm form) {
  if (!(share > 0 && share < 1) || !(target_epsilon > 0) || !std::isfinite(target_epsilon) || releases < 1) {
    return absl::InvalidArgumentError("class sums: share in (0, 1), a target epsilon > 0 and >= 1 release");
  }
  const double budget = share * target_epsilon;
  auto epsilon_at = [&](double stddev) -> absl::StatusOr<double> {
    const MechanismStep step = ClassSumStep(stddev, form);
    FEDLOG_ASSIGN_OR_RETURN(EpsilonAtOrder eps, SampledGaussianEpsilon(step.sampling_rate, step.noise_multiplier,
                                                                       releases, delta, DefaultOrders()));
    return eps.epsilon;
  };
  double lo = kMinClassSumNoise, hi = kMaxClassSumNoise;
  FEDLOG_ASSIGN_OR_RETURN(double eps_hi, epsilon_at(hi));
  if (eps_hi > budget) return absl::InvalidArgumentError("class sums: the share cannot be met");
  FEDLOG_ASSIGN_OR_RETURN(double eps_lo, epsilon_at(lo));
  if (eps_lo <= budget) return lo;
  while (hi - lo > 1e-3 * lo) {  // epsilon falls as the noise grows
    const double mid = std::sqrt(lo * hi);  // geometric: the range spans eight decades
    FEDLOG_ASSIGN_OR_RETURN(double eps, epsilon_at(mid));
    (eps > budget ? lo : hi) = mid;
  }
  return hi;
}

std::vector<float> PrototypesFromRelease(absl::Span<const float> release, int64_t dim) {
  if (dim < 1 || static_cast<int64_t>(release.size()) != 2 * (dim + 1)) return {};
  std::vector<float> out(static_cast<size_t>(2 * dim));
  const bool directions =
      release[static_cast<size_t>(dim)] == 0.0f && release[static_cast<size_t>(2 * dim + 1)] == 0.0f;
  for (int64_t c = 0; c < 2; ++c) {
    const float* row = release.data() + c * (dim + 1);
    const double count = directions ? 1.0 : static_cast<double>(row[dim]);
    if (!std::isfinite(count) || !(count > 0)) return {};
    double norm2 = 0;
    for (int64_t j = 0; j < dim; ++j) {
      if (!std::isfinite(row[j])) return {};
      const double v = row[j] / count;
      norm2 += v * v;
    }
    if (directions && !(norm2 > 0)) return {};
    const double scale = norm2 > 1.0 || directions ? 1.0 / std::sqrt(norm2) : 1.0;  // onto the ball / the sphere
    for (int64_t j = 0; j < dim; ++j) {
      out[static_cast<size_t>(c * dim + j)] = static_cast<float>(scale * row[j] / count);
    }
  }
  return out;
}

}  // namespace fedlog::privacy
