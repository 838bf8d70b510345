// Bundle files without whole-file buffers: ReadBundleFile decodes a bundle file (any EncodeBundle
// encoding, zstd included) one tensor at a time while hashing the file, ReadBundleFileChunks the
// same in chunks of values (no tensor held whole), and BundleFileWriter writes a float32 bundle
// tensor by tensor while hashing it. The aggregator uses them so that neither an
// update nor a model is ever held as bytes, protobuf message and float vectors at the same time
// (docs/BENCHMARKS.md, "Round overhead and memory"). The bytes written are exactly
// EncodeBundle(bundle)'s with default options. Thread-safety: ReadBundleFile is reentrant; a
// BundleFileWriter is used from one thread.
#ifndef FEDLOG_COMMON_FL_BUNDLE_STREAM_H_
#define FEDLOG_COMMON_FL_BUNDLE_STREAM_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/sha256.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

struct BundleReadOptions {
  std::string sha256;                    // expected hex digest of the file; empty = not checked
  int64_t max_bytes = int64_t{2} << 30;  // limit on the (decompressed) serialized size
};

// Called with each tensor, decoded to float32 and checked against its shape, in file order. An
// error status stops the read and is returned as is.
using TensorVisitor = std::function<absl::Status(NamedTensor&& tensor)>;

// Streams the bundle file at `path` through `visit`. Memory: one tensor plus small I/O buffers.
// Names must be unique. The digest is compared after the last tensor (DataLoss on mismatch), so a
// caller must discard what it built from the tensors when this fails.
absl::Status ReadBundleFile(const std::string& path, const BundleReadOptions& options,
                            const TensorVisitor& visit);

// The same with the values in chunks (TensorSink, tensor_bundle.h): no tensor is ever held whole, except the
// raw bytes of an int8 tensor (a quarter of its float32 size; its scale follows its data). Memory: one chunk
// plus small I/O buffers. The values are bit for bit those ReadBundleFile and DecodeBundle give.
absl::Status ReadBundleFileChunks(const std::string& path, const BundleReadOptions& options,
                                  TensorSink* sink);

// Names and shapes of a bundle file (values are decoded in chunks and dropped).
absl::StatusOr<BundleLayout> ReadBundleLayout(const std::string& path,
                                              const BundleReadOptions& options = {});

// The whole bundle (what DecodeBundle(ReadFile(path)) gives, without holding the bytes).
absl::StatusOr<TensorBundle> ReadBundleFileWhole(const std::string& path,
                                                 const BundleReadOptions& options = {});

struct BundleFileInfo {
  std::string sha256;  // hex digest of the bytes written
  int64_t size_bytes = 0;
};

// Writes a float32 bundle to `path` atomically: to `path`.tmp, fsync, rename on Finish(). A writer
// destroyed without Finish() removes its temporary file.
class BundleFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<BundleFileWriter>> Create(const std::string& path);
  ~BundleFileWriter();
  BundleFileWriter(const BundleFileWriter&) = delete;
  BundleFileWriter& operator=(const BundleFileWriter&) = delete;

  // Appends one tensor (values must match its shape; names are not checked for uniqueness here).
  absl::Status Append(const NamedTensor& tensor);
  absl::StatusOr<BundleFileInfo> Finish();

 private:
  BundleFileWriter(std::string path, std::string tmp, std::FILE* f);
  absl::Status Write(const void* data, size_t n);

  const std::string path_;
  const std::string tmp_;
  std::FILE* file_;
  Sha256 digest_;
  int64_t size_ = 0;
};

// Writes every tensor of `bundle` for which `keep` (may be empty: all) is true.
absl::StatusOr<BundleFileInfo> WriteBundleFile(
    const std::string& path, const TensorBundle& bundle,
    const std::function<bool(const std::string&)>& keep = {});

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_BUNDLE_STREAM_H_
