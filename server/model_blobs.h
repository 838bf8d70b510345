// ModelBlobs: model bundles on disk under <data_dir>/models, one file per version, written atomically and
// checked against their sha256 on every read. Update blobs live under <data_dir>/updates/run<R>/round<N>.
// Thread-safe: files are immutable once written; writers use unique names.
#ifndef FEDLOG_SERVER_MODEL_BLOBS_H_
#define FEDLOG_SERVER_MODEL_BLOBS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::server {

struct StoredBlob {
  std::string path;
  std::string sha256;
  int64_t size_bytes = 0;
};

class ModelBlobs {
 public:
  explicit ModelBlobs(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  absl::Status Init();  // creates the directories

  // Encodes and writes a model version.
  absl::StatusOr<StoredBlob> WriteModel(int64_t version, const fl::TensorBundle& bundle);
  // Writes already-encoded update bytes of a site for a round attempt.
  absl::StatusOr<StoredBlob> WriteUpdate(int64_t run_id, int32_t round, int32_t attempt, const std::string& site,
                                         const std::string& bytes, const std::string& sha256);

  // Reads a blob and verifies its digest (DataLoss on mismatch).
  absl::StatusOr<std::string> ReadVerified(const std::string& path, const std::string& sha256) const;
  absl::StatusOr<fl::TensorBundle> ReadBundle(const std::string& path, const std::string& sha256) const;

 private:
  std::string data_dir_;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_MODEL_BLOBS_H_
