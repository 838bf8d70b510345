// ModelBlobs: model bundles on disk under <data_dir>/models, one file per version, written atomically and
// checked against their sha256 on every read. Update blobs live under <data_dir>/updates/run<R>/round<N>.
// Thread-safe: files are immutable once written; writers use unique names; the caches are mutex-guarded.
// Memory: the bytes and the decoded bundle of the last few models are shared by every reader, so N concurrent
// downloads or validations against the same model hold one copy, not N.
#ifndef FEDLOG_SERVER_MODEL_BLOBS_H_
#define FEDLOG_SERVER_MODEL_BLOBS_H_

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
  // A fresh path under <data_dir>/updates/incoming for spooling an upload as it arrives.
  std::string IncomingPath(const std::string& site) const;
  // Moves a spooled, validated update into its final place (atomic rename).
  absl::StatusOr<StoredBlob> AdoptUpdate(int64_t run_id, int32_t round, int32_t attempt, const std::string& site,
                                         const std::string& spooled_path, const std::string& sha256);

  // Reads a blob and verifies its digest (DataLoss on mismatch).
  absl::StatusOr<std::string> ReadVerified(const std::string& path, const std::string& sha256) const;
  absl::StatusOr<fl::TensorBundle> ReadBundle(const std::string& path, const std::string& sha256) const;

  // Shared, cached versions of the two above for model blobs (immutable, read by many calls at once).
  absl::StatusOr<std::shared_ptr<const std::string>> SharedBytes(const std::string& path, const std::string& sha256);
  absl::StatusOr<std::shared_ptr<const fl::TensorBundle>> SharedBundle(const std::string& path,
                                                                       const std::string& sha256);

 private:
  static constexpr size_t kCacheEntries = 2;

  std::string data_dir_;
  absl::Mutex cache_mu_;
  std::deque<std::pair<std::string, std::shared_ptr<const std::string>>> bytes_cache_ ABSL_GUARDED_BY(cache_mu_);
  std::deque<std::pair<std::string, std::shared_ptr<const fl::TensorBundle>>> bundle_cache_
      ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_MODEL_BLOBS_H_
