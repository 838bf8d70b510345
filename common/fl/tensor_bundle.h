// TensorBundle: the model-agnostic currency of federation — an ordered list of named float32 tensors.
// common/model converts torch modules to and from it; common/fl aggregates it; the codec serialises it to the
// protocol's fedlog.v1.TensorBundle. Thread-compatible value type.
#ifndef FEDLOG_COMMON_FL_TENSOR_BUNDLE_H_
#define FEDLOG_COMMON_FL_TENSOR_BUNDLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::fl {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major, product(shape) elements

  int64_t NumElements() const;
};

struct TensorBundle {
  std::vector<NamedTensor> tensors;

  // nullptr when absent. Linear scan: bundles hold tens of tensors, not thousands.
  const NamedTensor* Find(const std::string& name) const;
  NamedTensor* Find(const std::string& name);
  int64_t NumElements() const;
  // Sum of squares over every element, as double.
  double SquaredNorm() const;
};

// Names and shapes of a bundle without its values: what validation needs to know about a model.
struct TensorShape {
  std::string name;
  std::vector<int64_t> shape;
};
using BundleLayout = std::vector<TensorShape>;
BundleLayout LayoutOf(const TensorBundle& bundle);

// Product of `shape` (1 for a scalar).
int64_t NumElementsOf(const std::vector<int64_t>& shape);

// Receives a bundle tensor by tensor with the values in pieces, so a reader never materialises a whole tensor
// (fl::ReadBundleFileChunks): BeginTensor with the tensor's name and shape, TensorValues with consecutive runs
// of its float32 values in row-major order (`values` is valid during the call only), EndTensor after the last.
// The reader has checked that the values add up to the shape. An error status stops the read and is returned
// as is. Implementations are used from one thread.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) = 0;
  virtual absl::Status TensorValues(const float* values, size_t n) = 0;
  virtual absl::Status EndTensor() = 0;
};

// Optional tensors (common/model/site_round.h): names starting with "adapter." or "prototypes.". A model
// version may lack them; an update may carry them anyway (its delta is then the full value) and aggregation
// averages each one only over the updates that carry it. Every other tensor is "shared": every update must
// carry it with the global model's shape.
bool IsOptionalTensor(const std::string& name);

// OK when every tensor's values match its shape and names are unique and non-empty.
absl::Status ValidateBundle(const TensorBundle& bundle);

// OK when `other` has exactly the tensors of `reference` (same names, order-independent, same shapes).
absl::Status CheckSameLayout(const TensorBundle& reference, const TensorBundle& other);

// OK when every value is finite.
absl::Status CheckFinite(const TensorBundle& bundle);

// a - b elementwise (same layout required).
absl::StatusOr<TensorBundle> Subtract(const TensorBundle& a, const TensorBundle& b);
// base + scale * delta elementwise (same layout required).
absl::StatusOr<TensorBundle> AddScaled(const TensorBundle& base, const TensorBundle& delta, double scale);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_TENSOR_BUNDLE_H_
