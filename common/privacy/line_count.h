// The line count a site reports under line-level DP (docs/PRIVACY.md, "The line count under line DP").
// Weighted FedAvg weighs a site's update by its line count (UpdateHeader.num_samples). Under line-level DP that
// count is a statistic of the site's lines like any other: one line more or less changes it by 1. A site
// therefore releases it through the Gaussian mechanism with sensitivity 1: count + N(0, s^2), rounded and
// clamped to at least 1 (post-processing), with s from the run plan (TrainingPlan.line_dp_count_noise, `fedlog run
// start --dp-count-noise`, default kDefaultLineCountNoise) in the site daemon (client/privacy_step.h
// ReleaseLineCount) and `fedlog eval federated --dp-count-noise` in simulation.
// Each release is one step of the Gaussian mechanism with noise multiplier s at q = 1 (LineCountStep), which
// the site charges to the same ledger as its DP-SGD steps, so the epsilon it reports covers the count.
// Stateless functions; thread-safe given distinct samplers.
#ifndef FEDLOG_COMMON_PRIVACY_LINE_COUNT_H_
#define FEDLOG_COMMON_PRIVACY_LINE_COUNT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/ledger.h"

namespace fedlog::privacy {

// The stddev the site daemons use. Why 100: the weight of a site with n lines is then off by about 100 / n
// (5% at 2,000 lines, the scale of the evaluation's sites), and each round's release costs RDP a / (2 * 100^2)
// at order a: 10 rounds at a = 32 add 0.016 to the RDP curve, under 2% of an epsilon of 1.
inline constexpr double kDefaultLineCountNoise = 100;
inline constexpr double kMinLineCountNoise = 1;    // less: the count would be nearly exact at a large epsilon
inline constexpr double kMaxLineCountNoise = 1e6;

// The stddev a plan's field means: `planned` when > 0, else kDefaultLineCountNoise (0 = not set: a plan or an
// aggregator from before the field). Range checks are the caller's (IsValidLineCountNoise).
double EffectiveLineCountNoise(double planned);

// True for a stddev the daemons accept: finite and in [kMinLineCountNoise, kMaxLineCountNoise].
bool IsValidLineCountNoise(double noise);

// The ledger step of one release: q = 1, noise multiplier = stddev / sensitivity = `noise`, one step.
MechanismStep LineCountStep(double noise);

// count + N(0, noise^2) from `sampler`, rounded to the nearest integer and clamped to [1, max_count].
// InvalidArgument for a count below 0, or a noise outside [kMinLineCountNoise, kMaxLineCountNoise].
absl::StatusOr<int64_t> NoisedLineCount(int64_t count, double noise, int64_t max_count, GaussianSampler& sampler);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_LINE_COUNT_H_
