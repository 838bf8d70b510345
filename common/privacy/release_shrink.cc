#include "common/privacy/release_shrink.h"

#include <algorithm>
#include <cmath>

#include "common/privacy/class_sums.h"

namespace fedlog::privacy {

absl::StatusOr<double> PooledReleaseNoiseEnergy(double stddev, int shares, int contributors, int64_t dim,
                                                double total_weight) {
  if (!IsValidClassSumNoise(stddev)) {
    return absl::InvalidArgumentError("release shrink: the release's stddev is outside [0.01, 1e6]");
  }
  if (shares < 1 || contributors < 1 || dim < 1) {
    return absl::InvalidArgumentError("release shrink: shares, contributors and dim must be >= 1");
  }
  if (!std::isfinite(total_weight) || total_weight < 1) {
    return absl::InvalidArgumentError("release shrink: the pooled weight must be finite and >= 1");
  }
  const double share = ClassSumShareStddev(stddev, shares);
  return static_cast<double>(contributors) * static_cast<double>(dim) * share * share /
         (total_weight * total_weight);
}

double ReleaseShrinkWeight(absl::Span<const float> row, double noise_energy) {
  if (noise_energy == 0) return 1.0;
  double norm2 = 0;
  for (float v : row) norm2 += static_cast<double>(v) * v;
  if (!(norm2 > 0)) return 0.0;
  return std::max(0.0, 1.0 - noise_energy / norm2);
}

std::vector<float> ShrunkPrototypesFromRelease(absl::Span<const float> release, int64_t dim, double noise_energy) {
  if (!std::isfinite(noise_energy) || noise_energy < 0) return {};
  std::vector<float> out = PrototypesFromRelease(release, dim);
  if (out.empty() || noise_energy == 0) return out;
  const bool directions =
      release[static_cast<size_t>(dim)] == 0.0f && release[static_cast<size_t>(2 * dim + 1)] == 0.0f;
  if (!directions) return out;
  for (int64_t c = 0; c < 2; ++c) {
    const double w = ReleaseShrinkWeight(release.subspan(static_cast<size_t>(c * (dim + 1)), dim), noise_energy);
    for (int64_t j = 0; j < dim; ++j) out[static_cast<size_t>(c * dim + j)] *= static_cast<float>(w);
  }
  return out;
}

}  // namespace fedlog::privacy
