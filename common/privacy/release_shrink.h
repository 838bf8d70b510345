// A shrinkage weight for the class-sum release's prototypes (docs/PRIVACY.md, "Shrinking the release towards the
// site's own normal score"). The pooled release row c is R_c = (X_c + N_c) / W: X_c the pooled clipped sum, N_c
// the pooled Gaussian noise, W the sum of the released line counts of the updates that carried it
// (class_sums.h). Every term of E|N_c / W|^2 = contributors * dim * (s / sqrt(t))^2 / W^2 is public, so a site
// can weigh the decoded prototype by the James-Stein (Wiener) factor w_c = max(0, 1 - E|N_c / W|^2 / |R_c|^2):
// about the share of |R_c|^2 that is signal. With unit-norm embeddings z and an anomalous prototype w u, the
// detector's score d_normal - d_anomalous is d_normal - 1 - w^2 + 2 w (z . u), so w weighs the release's term
// against the site's own normal-only score, and w = 0 leaves that score alone. Post-processing of a DP release
// with public numbers: no privacy cost. Measured in session 21 (docs/EVALUATION.md "Session 21"); the detector
// applies it only when the model carries kReleaseNoiseName, which only `fedlog eval federated
// --dp-release-shrink` attaches (no plan field asks for it).
// Stateless functions; thread-safe.
#ifndef FEDLOG_COMMON_PRIVACY_RELEASE_SHRINK_H_
#define FEDLOG_COMMON_PRIVACY_RELEASE_SHRINK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::privacy {

// The bundle tensor, shape {1}, that carries E|N_c / W|^2 (the expected squared norm of one row's pooled noise,
// in the release's units) next to `prototypes.release`: a prototype-like tensor, never part of an update.
inline constexpr char kReleaseNoiseName[] = "prototypes.release_noise";

// E|N_c / W|^2 = contributors * dim * (stddev^2 / shares) / total_weight^2: `contributors` updates each added
// N(0, stddev^2 / shares) to each of the row's `dim` sums (class_sums.h ClassSumShareStddev) before dividing by
// their released weights, whose sum is `total_weight`. InvalidArgument for a stddev outside
// [kMinClassSumNoise, kMaxClassSumNoise], shares, contributors or dim < 1, or a total weight < 1 or not finite.
absl::StatusOr<double> PooledReleaseNoiseEnergy(double stddev, int shares, int contributors, int64_t dim,
                                                double total_weight);

// max(0, 1 - noise_energy / |row|^2); exactly 1 when noise_energy is 0, 0 for a zero row with noise.
double ReleaseShrinkWeight(absl::Span<const float> row, double noise_energy);

// PrototypesFromRelease(release, dim) with each row of a directions-form release (class_sums.h) multiplied by
// ReleaseShrinkWeight(its sum, noise_energy). The sums-and-counts form, and noise_energy 0, are returned
// unchanged. Empty when PrototypesFromRelease is, or when noise_energy is negative or not finite.
std::vector<float> ShrunkPrototypesFromRelease(absl::Span<const float> release, int64_t dim, double noise_energy);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_RELEASE_SHRINK_H_
