// Site-level differential privacy on a flat float update: clip the whole update to L2 norm C, then add this
// site's share of the Gaussian noise. With distributed noise every site adds N(0, (sigma*C)^2 / n_min) per
// coordinate, so that the sum over any n >= n_min surviving sites carries noise of standard deviation at least
// sigma*C, and the aggregator (which under secure aggregation sees only that sum) never sees an update without
// noise. The accountant then charges the run with noise multiplier sigma and q = the sampled fraction of sites.
// Stateless functions; thread-safe given distinct samplers.
#ifndef FEDLOG_COMMON_PRIVACY_SITE_DP_H_
#define FEDLOG_COMMON_PRIVACY_SITE_DP_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/privacy/gaussian_noise.h"

namespace fedlog::privacy {

struct SiteDpOptions {
  double clip = 1.0;              // C: L2 bound of one site's whole update
  double noise_multiplier = 1.0;  // sigma: total noise stddev over the sum is sigma * C
  int min_sites = 1;              // n_min: the fewest sites whose noise shares reach the sum (the run's minimum)
};

// InvalidArgument unless clip > 0 and finite, noise_multiplier >= 0 and finite, min_sites >= 1.
absl::Status ValidateSiteDpOptions(const SiteDpOptions& options);

// Per-coordinate stddev of one site's noise share: sigma * C / sqrt(n_min).
double NoiseShareStddev(const SiteDpOptions& options);

struct ClipResult {
  double norm = 0;   // L2 norm before clipping
  double scale = 1;  // factor applied: min(1, C / norm)
};

// Scales `v` so its L2 norm is at most `clip`. InvalidArgument for a non-finite value or clip.
absl::StatusOr<ClipResult> ClipL2(absl::Span<float> v, double clip);

// ClipL2 to options.clip, then adds this site's noise share from `sampler` to every coordinate.
absl::StatusOr<ClipResult> ClipAndAddNoiseShare(absl::Span<float> v, const SiteDpOptions& options,
                                                GaussianSampler& sampler);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_SITE_DP_H_
