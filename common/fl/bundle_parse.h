// The parser behind ReadBundleFile / ReadBundleFileChunks (bundle_stream.h): a serialized fedlog.v1.TensorBundle
// read from a protobuf input stream and handed to a TensorSink tensor by tensor, values in chunks. Internal to
// the codec library. Thread-compatible (stateless function).
#ifndef FEDLOG_COMMON_FL_BUNDLE_PARSE_H_
#define FEDLOG_COMMON_FL_BUNDLE_PARSE_H_

#include <google/protobuf/io/coded_stream.h>

#include "absl/status/status.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl::internal {

// Values per TensorValues call (64 KiB of float32): small enough to stay in cache, large enough that the
// per-call cost vanishes.
constexpr size_t kChunkValues = 16384;

// Parses the bundle from `in` (untrusted: lengths, dtypes, shapes and unique names are checked) into `sink`.
// A float32 / float16 tensor whose name, dtype and shape precede its data (the order EncodeBundle and every
// protobuf serializer write) is decoded straight from the stream in chunks; otherwise (int8, whose scale follows
// its data, or an unusual field order) the tensor's raw data bytes are held until its message ends, which for
// int8 is a quarter of the tensor's float32 size. Name, dtype or shape fields after decoded data are refused.
absl::Status ParseBundleStream(google::protobuf::io::CodedInputStream* in, TensorSink* sink);

}  // namespace fedlog::fl::internal

#endif  // FEDLOG_COMMON_FL_BUNDLE_PARSE_H_
