// Bounded influence under secure aggregation (docs/rules/s25-weightcap.md): the aggregator never sees a
// site's input, so it bounds each site's share of the weight before masking instead of after. Each site states
// its weight with its keys (AdvertiseKeys.weight); when advertising closes the aggregator caps the stated
// weights at ShareCap and gives each site its own capped weight, which the site masks; the survivors' shares
// are checked when masking closes (FirstOverShare) and the decoded weight sum against the weights given
// (CheckWeightSum) after unmasking. The rule is the plain path's (fl::CapWeightShares, docs/SECURITY-aggregation.md
// "Bounded influence") written on absolute weights, since a site masks a weight, not a share.
// Thread-safe (pure functions).
#ifndef FEDLOG_COMMON_SECAGG_WEIGHTS_H_
#define FEDLOG_COMMON_SECAGG_WEIGHTS_H_

#include <cstddef>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/secagg/quantize.h"

namespace fedlog::secagg {

// The largest weight a site may state: the plain path's bound on a reported sample count (2^40).
inline constexpr double kMaxStatedWeight = 1099511627776.0;

// InvalidArgument unless `weight` is finite and in [0, kMaxStatedWeight] (the wire check of a stated weight;
// the round adds its own lower bound, the smallest weight its lanes keep precise).
absl::Status CheckStatedWeight(double weight);

// The cap T for `weights` (each finite and > 0) under the share cap `share`: the largest T such that, with
// every weight capped at T, none exceeds c = max(share, 1/n) of their sum. The capped weights' shares are
// fl::CapWeightShares's (weights above T all get c, the others keep their ratios); T is at least the smallest
// weight. +infinity when nothing is capped: share <= 0 or >= 1, fewer than 2 weights, or no weight above c of
// the sum.
double ShareCap(absl::Span<const double> weights, double share);

// The index of the first of `weights` (the survivors' capped weights, each >= 0) above max(share, 1/n) of
// their sum, with a relative slack of 1e-9 for the arithmetic; nullopt when none is, or when share <= 0 or
// >= 1 (no cap).
std::optional<size_t> FirstOverShare(absl::Span<const double> weights, double share);

// The weight the aggregator gave a site (its roster), checked by the site against the weight it stated:
// InvalidArgument unless finite, above 0 and at most `stated` (a site never masks more than it stated).
absl::StatusOr<double> CheckGivenWeight(double given, double stated);

// OK when the unmasked weight sum of `sites` survivors equals `expected`, the sum of the weights the round gave
// them, within what honest rounding allows: half a step 2^-f per site's weight lane, plus (sites + 2) * 2^-52
// of the sums for their double arithmetic. DataLoss otherwise: some site masked a weight other than the one it
// was given.
absl::Status CheckWeightSum(const DecodedSum& sum, double expected, int sites, int fractional_bits);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_WEIGHTS_H_
