// Line-level DP's release of per-class embedding sums (docs/PRIVACY.md, "Class knowledge under line DP").
// A site with no anomalous labelled line of its own detects only with the federation's class prototypes. Under
// line DP the DP-trained `prototypes.global` moves by noise only, so the federation carries no class knowledge
// to such a site. Instead each site releases, once per run (in the plan's release round), the sum of its labelled
// lines' embeddings per class and the class counts, through the Gaussian mechanism:
//   release = [sum_normal | count_normal ; sum_anomalous | count_anomalous] + N(0, s^2) on every value,
// shape [2, out_dim + 1]. Each embedding is clipped to L2 norm <= 1 (the encoder's embeddings are unit vectors),
// so adding or removing one labelled line moves its class's sum by at most 1 and its count by 1: L2 sensitivity
// sqrt(2). The release is one Gaussian mechanism step with noise multiplier s / sqrt(2) at q = 1 (ClassSumStep),
// charged to the same ledger as the site's DP-SGD phases and its line count, so the epsilon a site reports and
// its policy's max_epsilon cover it.
// The aggregator averages tensors weighted by each update's (noised) line count w_i, so a site uploads its
// release divided by its own released w_i (ScaleToWeight): the weighted mean is then sum_i release_i / sum_i w_i
// for both the sums and the counts, and their ratio (PrototypesFromRelease) is the pooled class mean, whatever
// the common factor. Stateless functions; thread-safe given distinct samplers.
#ifndef FEDLOG_COMMON_PRIVACY_CLASS_SUMS_H_
#define FEDLOG_COMMON_PRIVACY_CLASS_SUMS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/ledger.h"

namespace fedlog::privacy {

// The L2 sensitivity of one release: one line's clipped embedding (norm <= 1) plus its count (1).
inline constexpr double kClassSumSensitivity = 1.4142135623730951;
// The stddevs a plan may carry: below 0.01 the release is nearly exact (epsilon in the thousands).
inline constexpr double kMinClassSumNoise = 0.01;
inline constexpr double kMaxClassSumNoise = 1e6;
// The default share of a run's target epsilon the release may spend on its own (its epsilon alone, at the
// plan's delta, with every release of the run): half. Why: the release and DP-SGD are the two mechanisms of a
// line-DP run; the release is what a site without labels of a class detects with, DP-SGD what every upload
// carries, and no measurement says one matters more, so neither gets the larger share (docs/PRIVACY.md).
inline constexpr double kDefaultClassSumShare = 0.5;

// True for a stddev a plan may carry: finite and in [kMinClassSumNoise, kMaxClassSumNoise].
bool IsValidClassSumNoise(double stddev);

// The ledger step of one release: q = 1, noise multiplier stddev / kClassSumSensitivity, one step.
MechanismStep ClassSumStep(double stddev);

// Clips each row of `embeddings` (rows x dim, row-major) to L2 norm <= 1 and returns the un-noised release,
// [2, dim + 1] row-major: row c holds the sum of the rows whose label is c (0 normal, > 0 anomalous) and, last,
// their count. Labels < 0 (unlabelled) are skipped. InvalidArgument when the sizes disagree.
absl::StatusOr<std::vector<float>> ClassSums(absl::Span<const float> embeddings, int64_t dim,
                                             absl::Span<const int> labels);

// Adds N(0, stddev^2) from `sampler` to every value of `release`. InvalidArgument for a stddev outside
// [kMinClassSumNoise, kMaxClassSumNoise].
absl::Status NoiseClassSums(absl::Span<float> release, double stddev, GaussianSampler& sampler);

// Divides every value by `weight` (the update's released line count, >= 1). InvalidArgument otherwise.
absl::Status ScaleToWeight(absl::Span<float> release, int64_t weight);

// The smallest stddev s (relative 1e-3) at which `releases` releases alone (ClassSumStep(s) each) reach at most
// share * target_epsilon at `delta`. InvalidArgument for share outside (0, 1), a target <= 0, releases < 1, or
// when even kMaxClassSumNoise does not.
absl::StatusOr<double> ClassSumNoiseForShare(double target_epsilon, double share, int64_t releases,
                                             double delta);

// The class prototypes [2 * dim] (row-major) an aggregated release gives: row c = its sum / its count, projected
// onto the unit ball (a mean of unit vectors lies in it, so the projection only removes noise). Empty when the
// size is not 2 * (dim + 1), a value is not finite, or a class's count is not positive (noise can make it so).
std::vector<float> PrototypesFromRelease(absl::Span<const float> release, int64_t dim);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_CLASS_SUMS_H_
