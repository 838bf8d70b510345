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
// The release's form (ClassSumForm; docs/PRIVACY.md, "The release's form"): with kDirections (session 14, what
// `fedlog run start` asks for by default) no count leaves the site: the count column is exactly 0 at every site,
// never noised, so one line moves the release by at most 1 (sensitivity 1, noise multiplier s / 1), and a site
// lacking a class takes the unit direction of the pooled sum. At the same epsilon its noise is 1/sqrt(2) of the
// sums-and-counts form's; what it gives up, the mean's norm, the projection onto the unit ball already removes
// whenever the noise is large.
// The aggregator averages tensors weighted by each update's (noised) line count w_i, so a site uploads its
// release divided by its own released w_i (ScaleToWeight): the weighted mean is then sum_i release_i / sum_i w_i
// for both the sums and the counts, and their ratio (PrototypesFromRelease) is the pooled class mean, whatever
// the common factor.
// Under secure aggregation (docs/PRIVACY.md, "The class-sum release under secure aggregation") the release is one
// more masked section and its noise is distributed: each site adds N(0, s^2 / t) (ClassSumShareStddev), t the
// round's threshold, so the unmasked sum of any >= t surviving sites carries variance >= s^2, which is what the
// accountant charges. The quantiser clamps every lane to [-R, R] before weighting, which would cut a site's noise
// share; CheckReleaseFitsRange refuses, from public numbers only, a weight too small for that to be negligible.
// Stateless functions; thread-safe given distinct samplers.
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

// What a release carries per class (see above).
enum class ClassSumForm {
  kSumsAndCounts,  // [sum | count], sensitivity kClassSumSensitivity (sessions 12-13)
  kDirections,     // [sum | 0]: the count column exactly 0 and never noised, sensitivity 1
};

// The L2 sensitivity of one release of `form`: sqrt(2) or 1.
double ClassSumSensitivity(ClassSumForm form);
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

// The ledger step of one release: q = 1, noise multiplier stddev / ClassSumSensitivity(form), one step.
MechanismStep ClassSumStep(double stddev, ClassSumForm form = ClassSumForm::kSumsAndCounts);

// Clips each row of `embeddings` (rows x dim, row-major) to L2 norm <= 1 and returns the un-noised release,
// [2, dim + 1] row-major: row c holds the sum of the rows whose label is c (0 normal, > 0 anomalous) and, last,
// their count (kDirections: 0). Labels < 0 (unlabelled) are skipped. InvalidArgument when the sizes disagree.
absl::StatusOr<std::vector<float>> ClassSums(absl::Span<const float> embeddings, int64_t dim,
                                             absl::Span<const int> labels,
                                             ClassSumForm form = ClassSumForm::kSumsAndCounts);

// Adds N(0, ClassSumShareStddev(stddev, shares)^2) from `sampler` to every value of `release` (shares 1: the
// whole stddev); with kDirections to every value but the count columns (each row's last), which stay as they are.
// InvalidArgument for a stddev outside [kMinClassSumNoise, kMaxClassSumNoise], shares < 1, or (kDirections) a
// release that is not rows of `dim + 1` values.
absl::Status NoiseClassSums(absl::Span<float> release, double stddev, GaussianSampler& sampler, int shares = 1,
                            ClassSumForm form = ClassSumForm::kSumsAndCounts, int64_t dim = 0);

// Divides every value by `weight` (the update's released line count, >= 1). InvalidArgument otherwise.
absl::Status ScaleToWeight(absl::Span<float> release, int64_t weight);

// The per-site stddev under distributed noise: stddev / sqrt(shares) (shares = the round's threshold t >= 1;
// 1 = the whole noise at every site, the plain path).
double ClassSumShareStddev(double stddev, int shares);

// How far into the Gaussian tail the range rule reaches: a noise value beyond kReleaseTailSigmas stddevs has
// probability below 2e-23, and the clamp can only act beyond it (CheckReleaseFitsRange).
inline constexpr double kReleaseTailSigmas = 10;

// The smallest released weight w at which a site's scaled release (its sums and counts plus its noise share,
// divided by w) stays inside the quantiser's [-R, R] unless a noise value lies beyond kReleaseTailSigmas
// stddevs: (R - 1) * w >= kReleaseTailSigmas * (count_noise + share_stddev). Why: a class's sum coordinates
// and count are at most the site's training lines n, and w = n + N(0, count_noise^2), so |value| * w <=
// n + |share noise| <= w + |count noise| + |share noise|. Infinity for R <= 1.
double MinReleaseWeight(double clip_range, double count_noise, double share_stddev);

// OK when `weight` >= MinReleaseWeight(...); FailedPrecondition otherwise (the site then refuses to mask, as for
// a weight below the quantiser's precision bound). Every input is public (the plan's R and noises, the released
// weight), so the refusal reveals nothing about the lines beyond the released weight.
absl::Status CheckReleaseFitsRange(double clip_range, int64_t weight, double count_noise, double share_stddev);

// The smallest stddev s (relative 1e-3) at which `releases` releases alone (ClassSumStep(s, form) each) reach at
// most share * target_epsilon at `delta`. InvalidArgument for share outside (0, 1), a target <= 0, releases < 1,
// or when even kMaxClassSumNoise does not.
absl::StatusOr<double> ClassSumNoiseForShare(double target_epsilon, double share, int64_t releases,
                                             double delta, ClassSumForm form = ClassSumForm::kSumsAndCounts);

// The class prototypes [2 * dim] (row-major) an aggregated release gives. A release whose count columns are both
// exactly 0 is of the kDirections form (a noised count is never exactly 0 in practice): row c = its sum's unit
// direction. Otherwise row c = its sum / its count, projected onto the unit ball (a mean of unit vectors lies in
// it, so the projection only removes noise). Empty when the size is not 2 * (dim + 1), a value is not finite, a
// class's count is not positive (noise can make it so), or a kDirections sum is 0.
std::vector<float> PrototypesFromRelease(absl::Span<const float> release, int64_t dim);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_CLASS_SUMS_H_
