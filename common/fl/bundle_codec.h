// Encodes TensorBundle to the wire/disk format (serialized fedlog.v1.TensorBundle, float32 little-endian) and
// back. Decoding treats its input as untrusted: sizes, dtypes and shapes are checked. Thread-safe (stateless).
#ifndef FEDLOG_COMMON_FL_BUNDLE_CODEC_H_
#define FEDLOG_COMMON_FL_BUNDLE_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

enum class WireDType { kFloat32, kFloat16, kInt8 };

struct EncodeOptions {
  WireDType dtype = WireDType::kFloat32;  // float16: round to nearest even; int8: symmetric, per-tensor scale
  bool zstd = false;                      // compress the serialized bundle with zstd
  int zstd_level = 3;
};

// "f32"/"float32", "f16"/"float16", "int8"; InvalidArgument otherwise.
absl::StatusOr<WireDType> ParseWireDType(const std::string& name);

// Serialized fedlog.v1.TensorBundle bytes (optionally a zstd frame around them). The default options are lossless.
absl::StatusOr<std::string> EncodeBundle(const TensorBundle& bundle, const EncodeOptions& options = {});

// IEEE 754 half -> single precision (exact), as the decoders widen DTYPE_FLOAT16.
float HalfToFloat(uint16_t h);

// Parses and validates bytes made by EncodeBundle, in any of its encodings: a zstd frame is recognised by its
// magic number and must decompress to at most `max_bytes`; float16 / int8 tensors are widened to float32.
absl::StatusOr<TensorBundle> DecodeBundle(absl::string_view bytes, int64_t max_bytes = int64_t{2} << 30);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_BUNDLE_CODEC_H_
