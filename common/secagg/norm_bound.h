// The L2 bound on one site's contribution under secure aggregation (docs/SECURITY.md "One bad site under secure
// aggregation", docs/PRIVACY.md "The norm a site states"). The aggregator never sees a single update, so the bound is set and
// checked in three steps:
//   1. each site states the L2 norm of its update's values with its keys (ReportedNorm: rounded up to a power of
//      2^(1/4), so only that bracket leaves the site), unless its policy withholds it;
//   2. at the close of advertising the aggregator takes the bound B = M x r, r the lower median of the stated
//      norms and the run's carried reference (common/fl/adaptive_clip.h, the plain rounds' rule), and gives every
//      site B with its roster; each site scales its values down to norm B (ClipValueNorm) before masking;
//   3. the unmasked sum is checked part by part (CheckNormBound): the values of honest sites scaled to norm B and
//      weighed by w_i sum to a vector of norm at most B x sum(w_i) in every part (triangle inequality), so a sum
//      beyond that holds a site that masked more than its bound: the attempt fails as a spoiled sum (DataLoss).
// A site that lies about its norm moves r by one rank at most; one that masks more than B is caught by step 3
// unless the other sites' values cancel part of it, so its pull on the mean is at most B in L2 (instead of the
// clip range R in every coordinate, R x sqrt(d) in L2).
// The "values" of a vector are the coordinates that the weighted mean divides by a weight or presence sum: the
// shared tensors, prototypes.global, and each adapter section's weights and prototypes (update_vector.h). Presence
// lanes, the class-sum release (noise shares) and the kind sections (counts at weight 1) are not values.
// Thread-safe (pure functions).
#ifndef FEDLOG_COMMON_SECAGG_NORM_BOUND_H_
#define FEDLOG_COMMON_SECAGG_NORM_BOUND_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/secagg/quantize.h"
#include "common/secagg/update_vector.h"

namespace fedlog::secagg {

// [begin, end) of a run of value coordinates in the update vector.
struct ValueRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// The value coordinates of `layout`, in vector order, one range per part: the shared tensors (all together),
// prototypes.global, and per adapter section its weights, then its prototypes. A part checked against its own
// divisor: parts[i] pairs with NormParts' divisor lane.
struct NormPart {
  ValueRange values;
  // The lane whose sum the part's mean divides by: -1 for the weight sum, else the index of its presence lane.
  int64_t presence_lane = -1;
};
std::vector<NormPart> NormParts(const UpdateVectorLayout& layout);
std::vector<ValueRange> ValueRanges(const UpdateVectorLayout& layout);

// L2 norm of x's coordinates in `ranges` (each within x; InvalidArgument otherwise or for a non-finite value).
absl::StatusOr<double> ValueNorm(absl::Span<const float> x, const std::vector<ValueRange>& ranges);

// Scales x's coordinates in `ranges` by bound / norm when their norm exceeds `bound` (> 0; 0 = no bound) and
// returns whether it did. InvalidArgument for a negative or non-finite bound or ranges outside x.
absl::StatusOr<bool> ClipValueNorm(double bound, const std::vector<ValueRange>& ranges, std::vector<float>* x);

// The norm a site states: `norm` rounded up to the next power of 2^(1/4) (0 stays 0). InvalidArgument for a
// negative or non-finite norm.
absl::StatusOr<double> ReportedNorm(double norm);

// The largest norm a site of a round with clip range R and d values can state: R x sqrt(d), rounded up as
// ReportedNorm rounds.
double MaxReportedNorm(double clip_range, uint64_t vector_length);

// DataLoss when some part of `sum` (decoded, Quantizer::DecodeSum; its clip range and rounding set) has an L2
// norm above bound x its divisor (the weight sum, or its presence sum) plus the quantisation's rounding over the
// part; OK for bound 0 (none). InvalidArgument for a negative or non-finite bound or a sum that does not match
// the layout.
absl::Status CheckNormBound(const UpdateVectorLayout& layout, const DecodedSum& sum, double bound);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_NORM_BOUND_H_
