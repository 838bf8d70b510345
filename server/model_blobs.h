// ModelBlobs: model bundles on disk under <data_dir>/models, one file per version, written atomically and
// streaming (never a whole serialized copy in memory), and update blobs under <data_dir>/updates/run<R>/round<N>.
// Per-site download variants (the shared tensors plus the adapters of one set of sources) are files next to
// their model, made on first request and kept in a bounded cache: the least recently used beyond
// `max_variants` is deleted (an open download keeps reading its file: Linux frees it at the last close).
// Paths never contain a site id: spool and update files get random names (OpenSSL RAND_bytes).
// Thread-safe: files are immutable once written; writers use unique names; the caches are mutex-guarded.
// Memory: downloads read their blob in chunks, so N concurrent downloads of one model share one copy of it (the
// kernel's page cache of the immutable file) and each holds one chunk; validation needs only a model's layout
// (names and shapes), which is cached.
#ifndef FEDLOG_SERVER_MODEL_BLOBS_H_
#define FEDLOG_SERVER_MODEL_BLOBS_H_

#include <cstdio>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::server {

struct StoredBlob {
  std::string path;
  std::string sha256;
  int64_t size_bytes = 0;
};

class ModelBlobs {
 public:
  explicit ModelBlobs(std::string data_dir, int32_t max_variants = 8)
      : data_dir_(std::move(data_dir)), max_variants_(max_variants < 1 ? 1 : max_variants) {}

  // Creates the directories; removes spool, scratch and variant files a previous process left.
  absl::Status Init();

  // Writes a model version, tensor by tensor.
  absl::StatusOr<StoredBlob> WriteModel(int64_t version, const fl::TensorBundle& bundle);
  // The same for a model made tensor by tensor: append its tensors to the writer BeginModel returns, then
  // CommitModel with the layout written (names and shapes in order), which also seeds the layout cache.
  absl::StatusOr<std::unique_ptr<fl::BundleFileWriter>> BeginModel(int64_t version) const;
  absl::StatusOr<StoredBlob> CommitModel(int64_t version, fl::BundleFileWriter* writer, fl::BundleLayout layout);
  // A fresh, unguessable path under <data_dir>/updates/incoming for spooling an upload as it arrives.
  absl::StatusOr<std::string> IncomingPath() const;
  // Scratch space for the robust aggregation strategies.
  std::string ScratchDir() const;
  // Moves a spooled, validated update into its final place under a fresh random name (one atomic rename; no
  // file that exists is ever replaced). Callers hold the round's lock so that only an accepted update moves.
  absl::StatusOr<StoredBlob> AdoptUpdate(int64_t run_id, int32_t round, int32_t attempt,
                                         const std::string& spooled_path, const std::string& sha256);

  // Reads a bundle streaming and verifies its digest (DataLoss on mismatch).
  absl::StatusOr<fl::TensorBundle> ReadBundle(const std::string& path, const std::string& sha256) const;
  // Names and shapes of a model blob, cached (small). Concurrent callers for a blob not cached yet (every
  // site's download at the start of a round) wait for one reader instead of each decoding the file.
  absl::StatusOr<std::shared_ptr<const fl::BundleLayout>> SharedLayout(const std::string& path,
                                                                      const std::string& sha256);

  // The blob to send for model `version` at `path`: the model itself when `all` is true or it has no adapter
  // outside `sources`; otherwise a variant without the other sources' adapter.<s>.* tensors (prototypes.* and
  // shared tensors kept), written on first use. The returned digest and size describe the returned file.
  absl::StatusOr<StoredBlob> BlobForSources(int64_t version, const StoredBlob& model,
                                            const std::vector<std::string>& sources, bool all);
  // Opens a blob for sending. NotFound when it is a variant evicted since BlobForSources returned it (ask
  // again); the open file stays readable whatever is evicted afterwards.
  absl::StatusOr<std::shared_ptr<std::FILE>> Open(const StoredBlob& blob);
  // Deletes model `version`'s file at `path` and its download variants (model retention). A download that
  // opened one of them keeps reading it; later Opens find it gone. A file already gone is not an error. Does not
  // wait for a variant of `version` being written (BlobForSources): that one is removed when it is done and its
  // BlobForSources returns NotFound. Callers hold the coordinator's lock, so this never blocks on file I/O
  // other than the unlinks.
  absl::Status DeleteModel(int64_t version, const std::string& path);
  // Variant files on disk now (tests, status).
  int VariantCount();
  // Checks a blob's digest once per process (later calls for the same path return at once).
  absl::Status VerifyOnce(const StoredBlob& blob);
  // Whether this process wrote the model blob at `path` or has checked its digest.
  bool IsVerified(const std::string& path);

 private:
  static constexpr size_t kLayoutEntries = 4;

  std::string ModelPath(int64_t version) const;
  void RememberLayout(const std::string& path, std::shared_ptr<const fl::BundleLayout> layout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_);

  std::string data_dir_;
  const int32_t max_variants_;
  absl::Mutex cache_mu_;
  std::deque<std::pair<std::string, std::shared_ptr<const fl::BundleLayout>>> layout_cache_
      ABSL_GUARDED_BY(cache_mu_);
  // Least recently used first: (key of version and source set, file).
  std::list<std::pair<std::string, StoredBlob>> variants_ ABSL_GUARDED_BY(cache_mu_);
  std::set<std::string> verified_ ABSL_GUARDED_BY(cache_mu_);
  std::set<int64_t> deleted_ ABSL_GUARDED_BY(cache_mu_);  // versions DeleteModel has removed (small: retention)
  absl::Mutex layout_read_mu_;    // one layout read at a time (see SharedLayout)
  absl::Mutex variant_write_mu_;  // one variant written at a time (same temp name for the same variant)
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_MODEL_BLOBS_H_
