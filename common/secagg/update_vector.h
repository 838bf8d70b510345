// How a round's model update becomes the float vector that secure aggregation sums, and back. The vector is:
//   1. the shared tensors of the round's model, sorted by name;
//   2. (line_encoder models) prototypes.global, then one presence lane (1 when the site sends prototypes, 0
//      otherwise), so that the sum of the weighted presence lanes is the weight of the sites that contributed
//      prototypes and their mean can be taken over those sites only, as the plain path does;
//   3. one section per adapter group of the round (SecAggConfig.adapter_sources, ascending): that source's
//      adapter weights adapter.<s>.{down,up}.{bias,weight} sorted by name, then a presence lane; then
//      adapter.<s>.prototypes, then its presence lane. A site that is a member of the group (entitled to the
//      source) fills the section and puts 1 in the first presence lane; every other site puts zeros, so the sum
//      of a section is the group's weighted sum and its presence lane the group's weight (the plain path's mean
//      over the sites of that source). A member whose update lacks one of the adapter weights contributes a
//      zero delta for it (presence stays 1: a member never leaves a section to fewer contributors than the
//      aggregator counted). The second presence lane counts, like prototypes.global's, the members that sent
//      the source's prototypes (only sites with labels do).
//   4. (line DP's release round under secure aggregation, SecAggConfig.class_sum_release) prototypes.release
//      [2, out_dim + 1], then a presence lane. Every site of such a round must fill it (FlattenUpdate refuses an
//      update without it): each adds its noise share N(0, s^2 / t) there whether or not it holds labelled lines or
//      withholds its sums (client/privacy_step.h), so the unmasked sum of any >= t survivors carries the whole
//      noise s (common/privacy/class_sums.h; docs/PRIVACY.md, "The class-sum release under secure aggregation").
//   5. (rounds without DP, SecAggConfig.kind_sources) one message-kind section per source, ascending:
//      kinds::KindSketch::kSize count lanes, then a presence lane (kKindSectionLength floats). These lanes, and
//      only these, are quantised with weight 1 (SiteSession::MaskInput's unit_weight_lanes, KindLanes()), so
//      their sum is the plain sum of the sites' capped counts; kind_sections.h fills and reads them.
// Adapters of sources without a section (a group smaller than the threshold) are not part of the vector: they
// stay at the site (docs/PRIVACY.md). Both ends derive the layout from the same model spec plus the round's
// source list, so the vector needs no names on the wire.
// Thread-safe (immutable value types and pure functions).
#ifndef FEDLOG_COMMON_SECAGG_UPDATE_VECTOR_H_
#define FEDLOG_COMMON_SECAGG_UPDATE_VECTOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/fedavg.h"
#include "common/fl/tensor_bundle.h"
#include "common/kinds/kind_sketch.h"
#include "common/secagg/quantize.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::secagg {

// Floats in one message-kind section (part 5 of the header comment): the sketch's counts and a presence lane.
inline constexpr uint64_t kKindSectionLength = static_cast<uint64_t>(kinds::KindSketch::kSize) + 1;

struct AdapterSection {
  std::string source;
  fl::BundleLayout weights;               // adapter.<source>.{down,up}.{bias,weight}, sorted by name
  std::vector<int64_t> prototypes_shape;  // adapter.<source>.prototypes
  uint64_t length() const;                // floats in the section (its two presence lanes included)
};

struct UpdateVectorLayout {
  fl::BundleLayout shared;                // the model's shared tensors, sorted by name
  std::vector<int64_t> prototypes_shape;  // prototypes.global's shape; empty: no prototype section
  std::vector<AdapterSection> adapters;   // one per adapter group, by source name ascending
  std::vector<int64_t> release_shape;     // prototypes.release's shape; empty: no release section
  std::vector<std::string> kind_sources;  // one kind section each, strictly ascending, at the end
  uint64_t length() const;                // floats in the vector (the presence lanes included)
  // The floats of the kind sections: the vector's tail that is quantised with weight 1.
  uint64_t KindLanes() const { return kKindSectionLength * kind_sources.size(); }
};

// Appends the class-sum release section ([2, out_dim + 1] and a presence lane) after the adapter sections.
// InvalidArgument for out_dim < 1 or a layout that has one already.
absl::Status AddReleaseSection(int64_t out_dim, UpdateVectorLayout* layout);

// Appends one message-kind section per source of `sources` (strictly ascending valid source names) after
// every other section. InvalidArgument otherwise, or for a layout that has kind sections already.
absl::Status AddKindSections(const std::vector<std::string>& sources, UpdateVectorLayout* layout);

// The layout for a model whose tensors are `model` (optional tensors in it are ignored); `prototypes_out_dim`
// > 0 adds the prototypes.global section ([2, out_dim]) and its presence lane. No adapter sections.
UpdateVectorLayout MakeUpdateVectorLayout(const fl::BundleLayout& model, int64_t prototypes_out_dim);

// Appends one adapter section per source of `sources` (strictly ascending valid source names), shaped by
// `schema` (out_dim, adapter_dim > 0). InvalidArgument otherwise.
absl::Status AddAdapterSections(const std::vector<std::string>& sources, const fl::UpdateCheckOptions& schema,
                                UpdateVectorLayout* layout);

// The layout a site derives for a round task: the model's shared tensors (`model`, its own copy of the
// round's model), prototypes.global for line_encoder `spec`s, and the sections of `config.adapter_sources`.
// Validates what the aggregator sent: group sizes parallel to the sources and within [threshold, max_sites],
// member_sources distinct and among adapter_sources, no sections for a model without adapters, a release
// section (config.class_sum_release) only for line_encoder models, kind sections (config.kind_sources) with
// group sizes parallel and within [threshold, max_sites] and never beside a release section (a DP round), and
// the length equal to config.vector_length (FailedPrecondition for a mismatch, InvalidArgument for the rest).
absl::StatusOr<UpdateVectorLayout> LayoutForRound(const fl::BundleLayout& model, const v1::ModelSpec& spec,
                                                  const v1::SecAggConfig& config);

struct FlatUpdate {
  std::vector<float> values;
  int64_t clipped = 0;  // coordinates that were clamped to [-clip_range, clip_range]
};

// Flattens a site's delta: every shared tensor of the layout must be present with its shape and finite values
// (InvalidArgument otherwise); prototypes.global is used when present with the layout's shape. The sections of
// `member_sources` take the site's adapter.<s>.* tensors (as in the header comment); the others are zeros.
// With a release section, `delta` must hold prototypes.release in its shape (InvalidArgument otherwise: every
// site of a release round adds its noise share). Tensors outside the layout are left out. Each coordinate is
// clamped to [-clip_range, clip_range]. The kind sections are not filled here (AppendKindSections does).
absl::StatusOr<FlatUpdate> FlattenUpdate(const UpdateVectorLayout& layout, const fl::TensorBundle& delta,
                                         double clip_range, const std::vector<std::string>& member_sources = {});

// The weighted mean delta from a decoded sum: shared tensors divided by the weight sum, prototypes.global by
// the weighted presence sum, each adapter section's weights and prototypes and the release by their presence
// sums (a part no
// site contributed to is left out, so that the model keeps its value). The kind sections are not read here
// (KindSumsFromSum). FailedPrecondition for a zero weight
// sum, DataLoss for a sum that does not match the layout, is not finite, has a presence sum above the
// weight sum (no site can be present with more than its weight), or a coordinate whose |sum| exceeds
// sum.clip_range times the weight (or presence) sum it is divided by, plus sum.rounding (a site's values
// weighed by more than its weight lane says); InvalidArgument for a sum without clip_range.
absl::StatusOr<fl::TensorBundle> MeanFromSum(const UpdateVectorLayout& layout, const DecodedSum& sum);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_UPDATE_VECTOR_H_
