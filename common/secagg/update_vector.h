// How a round's model update becomes the float vector that secure aggregation sums, and back: the shared
// tensors of the round's model sorted by name, then (line_encoder models) prototypes.global followed by one
// presence lane (1 when the site sends prototypes, 0 otherwise), so that the sum of the weighted presence lanes
// is the weight of the sites that contributed prototypes and their mean can be taken over those sites only,
// as the plain path does. Adapters (adapter.<source>.*) are not part of the vector: under secure aggregation
// they stay at the site (docs/PRIVACY.md).
// Both ends derive the layout from the same model, so the vector needs no names on the wire.
// Thread-safe (immutable value types and pure functions).
#ifndef FEDLOG_COMMON_SECAGG_UPDATE_VECTOR_H_
#define FEDLOG_COMMON_SECAGG_UPDATE_VECTOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/quantize.h"

namespace fedlog::secagg {

struct UpdateVectorLayout {
  fl::BundleLayout shared;                // the model's shared tensors, sorted by name
  std::vector<int64_t> prototypes_shape;  // prototypes.global's shape; empty: no prototype section
  uint64_t length() const;                // floats in the vector (the presence lane included)
};

// The layout for a model whose tensors are `model` (optional tensors in it are ignored); `prototypes_out_dim`
// > 0 adds the prototypes.global section ([2, out_dim]) and its presence lane.
UpdateVectorLayout MakeUpdateVectorLayout(const fl::BundleLayout& model, int64_t prototypes_out_dim);

struct FlatUpdate {
  std::vector<float> values;
  int64_t clipped = 0;  // coordinates that were clamped to [-clip_range, clip_range]
};

// Flattens a site's delta: every shared tensor of the layout must be present with its shape and finite values
// (InvalidArgument otherwise); prototypes.global is used when present with the layout's shape. Other tensors
// (adapters) are left out. Each coordinate is clamped to [-clip_range, clip_range].
absl::StatusOr<FlatUpdate> FlattenUpdate(const UpdateVectorLayout& layout, const fl::TensorBundle& delta,
                                         double clip_range);

// The weighted mean delta from a decoded sum: shared tensors divided by the weight sum, prototypes.global by the
// weighted presence sum (left out when no site sent prototypes). FailedPrecondition for a zero weight sum,
// DataLoss for a sum that does not match the layout or is not finite.
absl::StatusOr<fl::TensorBundle> MeanFromSum(const UpdateVectorLayout& layout, const DecodedSum& sum);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_UPDATE_VECTOR_H_
