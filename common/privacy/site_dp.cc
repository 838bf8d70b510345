#include "common/privacy/site_dp.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::privacy {

absl::Status ValidateSiteDpOptions(const SiteDpOptions& o) {
  if (!(o.clip > 0.0) || std::isinf(o.clip)) {
    return absl::InvalidArgumentError(absl::StrCat("DP clip ", o.clip, " must be finite and > 0"));
  }
  if (!(o.noise_multiplier >= 0.0) || std::isinf(o.noise_multiplier)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DP noise multiplier ", o.noise_multiplier, " must be finite and >= 0"));
  }
  if (o.min_sites < 1) return absl::InvalidArgumentError(absl::StrCat("DP min_sites ", o.min_sites, " must be >= 1"));
  return absl::OkStatus();
}

double NoiseShareStddev(const SiteDpOptions& o) {
  return o.noise_multiplier * o.clip / std::sqrt(static_cast<double>(o.min_sites));
}

absl::StatusOr<ClipResult> ClipL2(absl::Span<float> v, double clip) {
  if (!(clip > 0.0) || std::isinf(clip)) return absl::InvalidArgumentError(absl::StrCat("clip ", clip, " invalid"));
  double sq = 0.0;
  for (float x : v) sq += static_cast<double>(x) * static_cast<double>(x);
  const double norm = std::sqrt(sq);
  if (!std::isfinite(norm)) return absl::InvalidArgumentError("update has a non-finite value; refusing to clip it");
  ClipResult r{norm, 1.0};
  if (norm > clip) {
    r.scale = clip / norm;
    for (float& x : v) x = static_cast<float>(static_cast<double>(x) * r.scale);
  }
  return r;
}

absl::StatusOr<ClipResult> ClipAndAddNoiseShare(absl::Span<float> v, const SiteDpOptions& options,
                                                GaussianSampler& sampler) {
  FEDLOG_RETURN_IF_ERROR(ValidateSiteDpOptions(options));
  FEDLOG_ASSIGN_OR_RETURN(ClipResult r, ClipL2(v, options.clip));
  sampler.AddNoise(v, NoiseShareStddev(options));
  return r;
}

}  // namespace fedlog::privacy
