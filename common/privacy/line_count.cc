#include "common/privacy/line_count.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedlog::privacy {

double EffectiveLineCountNoise(double planned) { return planned > 0 ? planned : kDefaultLineCountNoise; }

bool IsValidLineCountNoise(double noise) { return noise >= kMinLineCountNoise && noise <= kMaxLineCountNoise; }

MechanismStep LineCountStep(double noise) {
  MechanismStep step;
  step.sampling_rate = 1.0;
  step.noise_multiplier = noise;  // sensitivity 1
  step.steps = 1;
  return step;
}

absl::StatusOr<int64_t> NoisedLineCount(int64_t count, double noise, int64_t max_count, GaussianSampler& sampler) {
  if (count < 0 || max_count < 1) return absl::InvalidArgumentError("line count must be >= 0 (and its cap >= 1)");
  if (!IsValidLineCountNoise(noise)) {
    return absl::InvalidArgumentError(
        absl::StrCat("line count noise must be in [", kMinLineCountNoise, ", ", kMaxLineCountNoise, "]"));
  }
  const double noised = std::round(static_cast<double>(count) + noise * sampler.Next());
  return static_cast<int64_t>(std::clamp(noised, 1.0, static_cast<double>(max_count)));
}

}  // namespace fedlog::privacy
