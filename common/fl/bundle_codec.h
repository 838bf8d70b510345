// Encodes TensorBundle to the wire/disk format (serialized fedlog.v1.TensorBundle, float32 little-endian) and
// back. Decoding treats its input as untrusted: sizes, dtypes and shapes are checked. Thread-safe (stateless).
#ifndef FEDLOG_COMMON_FL_BUNDLE_CODEC_H_
#define FEDLOG_COMMON_FL_BUNDLE_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

// Serialized fedlog.v1.TensorBundle bytes with every tensor as DTYPE_FLOAT32.
absl::StatusOr<std::string> EncodeBundle(const TensorBundle& bundle);

// Parses and validates bytes made by EncodeBundle (float16 / int8 tensors are widened to float32).
absl::StatusOr<TensorBundle> DecodeBundle(absl::string_view bytes);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_BUNDLE_CODEC_H_
