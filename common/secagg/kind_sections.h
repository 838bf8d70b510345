// The message-kind sections of the secure-aggregation update vector (update_vector.h, part 5; docs/PRIVACY.md
// "Message-kind counts under secure aggregation"): one section per source of the round's
// SecAggConfig.kind_sources, each kinds::KindSketch::kSize count lanes followed by one presence lane, at the END
// of the vector.
//
// Unlike every other part of the vector, these lanes are quantised with weight 1, not with the site's sample
// weight (SiteSession::MaskInput's unit_weight_lanes): the sum of a count lane is then the plain sum of the
// sites' values, and the clip [-R, R] bounds what ONE site can add to a bucket whatever weight it states. A
// site puts count * R / kSiteBucketCap in a lane, after scaling each bucket (its two classes together) down to
// kSiteBucketCap units (CapKindBuckets), so that R is exactly one site's cap; the aggregator reads
// sum * kSiteBucketCap / R back as counts. The presence lane is 1 for a site that filled the section (it holds
// labelled lines of the source and its policy sends label statistics), 0 otherwise: the sum counts the sites
// whose counts are in the section.
// Thread-safe (pure functions).
#ifndef FEDLOG_COMMON_SECAGG_KIND_SECTIONS_H_
#define FEDLOG_COMMON_SECAGG_KIND_SECTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/secagg/quantize.h"
#include "common/secagg/update_vector.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::secagg {

// The dense sketch of `counts` (KindSketch::kSize values) with every bucket whose two classes together hold
// more than kinds::kSiteBucketCap units scaled down to the cap, its class proportion kept
// (KindSketch::CapBuckets; a guard: the site's counts come capped already, client/site_kinds.h via
// kinds::KindTally, so this changes nothing for them). Counts KindSketch::FromSparse refuses (a bucket outside
// the sketch or listed twice, a count not finite and >= 0) are InvalidArgument.
absl::StatusOr<std::vector<double>> CapKindBuckets(const v1::KindCounts& counts);

// Appends the layout's kind sections to `out` (which holds the rest of the vector already): the section of a
// source with an entry in `counts` takes its capped counts scaled by clip_range / kSiteBucketCap and presence
// 1; every other section zeros. Counts of sources without a section are left out (they stay at the site).
// InvalidArgument for counts CapKindBuckets refuses or clip_range < 1.
absl::Status AppendKindSections(const UpdateVectorLayout& layout, const std::vector<v1::KindCounts>& counts,
                                double clip_range, FlatUpdate* out);

// One kind section of an unmasked sum: the summed counts (KindSketch::kSize values, each clamped to >= 0 once
// the checks passed) and the presence sum, or the reason the section's counts are dropped.
struct KindSectionSum {
  std::string source;
  absl::Status status;
  std::vector<double> counts;
  double sites = 0;
};

// Reads the kind sections of a decoded sum of `survivors` inputs, quantised with `fractional_bits` and clip
// `clip_range`. Each section is checked on its own: its presence sum must be finite and within
// [-tol_p, survivors + tol_p], each bucket (its two classes together) within [-tol, kSiteBucketCap * presence +
// tol], tol the sum's quantisation error bound (survivors * 2^-(f+1) per lane, in counts kSiteBucketCap / R
// of that); a section that fails carries DataLoss and no counts. A sum whose length differs from the layout
// fails every section.
std::vector<KindSectionSum> KindSumsFromSum(const UpdateVectorLayout& layout, const DecodedSum& sum, int survivors,
                                            double clip_range, int fractional_bits);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_KIND_SECTIONS_H_
