#include "server/model_blobs.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"

namespace fedlog::server {

absl::Status ModelBlobs::Init() {
  FEDLOG_RETURN_IF_ERROR(MakeDirs(JoinPath(data_dir_, "models"), true));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(JoinPath(data_dir_, "updates/incoming"), true));
  // Spooled uploads of a previous process never completed; their sites re-send them.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(JoinPath(data_dir_, "updates/incoming"), ec)) {
    std::filesystem::remove(e.path(), ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredBlob> ModelBlobs::WriteModel(int64_t version, const fl::TensorBundle& bundle) {
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, fl::EncodeBundle(bundle));
  StoredBlob blob;
  blob.path = JoinPath(data_dir_, absl::StrFormat("models/v%06d.bundle", version));
  blob.sha256 = Sha256Hex(bytes);
  blob.size_bytes = static_cast<int64_t>(bytes.size());
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(blob.path, bytes));
  return blob;
}

std::string ModelBlobs::IncomingPath(const std::string& site) const {
  static std::atomic<uint64_t> counter{0};
  return JoinPath(data_dir_, absl::StrFormat("updates/incoming/%s.%d.%d.part", site, ::getpid(), counter++));
}

absl::StatusOr<StoredBlob> ModelBlobs::AdoptUpdate(int64_t run_id, int32_t round, int32_t attempt,
                                                   const std::string& site, const std::string& spooled_path,
                                                   const std::string& sha256) {
  std::string dir = JoinPath(data_dir_, absl::StrFormat("updates/run%d/round%d.%d", run_id, round, attempt));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(dir, true));
  FEDLOG_ASSIGN_OR_RETURN(int64_t size, FileSize(spooled_path));
  StoredBlob blob{JoinPath(dir, site + ".bundle"), sha256, size};
  if (::rename(spooled_path.c_str(), blob.path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot move ", spooled_path, " to ", blob.path));
  }
  return blob;
}

absl::StatusOr<std::string> ModelBlobs::ReadVerified(const std::string& path, const std::string& sha256) const {
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (Sha256Hex(bytes) != sha256) {
    return absl::DataLossError(absl::StrCat("blob '", path, "' does not match its sha256"));
  }
  return bytes;
}

absl::StatusOr<fl::TensorBundle> ModelBlobs::ReadBundle(const std::string& path, const std::string& sha256) const {
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, ReadVerified(path, sha256));
  return fl::DecodeBundle(bytes);
}

}  // namespace fedlog::server

namespace fedlog::server {

absl::StatusOr<std::shared_ptr<const std::string>> ModelBlobs::SharedBytes(const std::string& path,
                                                                          const std::string& sha256) {
  {
    absl::MutexLock lock(&cache_mu_);
    for (const auto& [p, bytes] : bytes_cache_) {
      if (p == path) return bytes;
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(std::string bytes, ReadVerified(path, sha256));
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  absl::MutexLock lock(&cache_mu_);
  bytes_cache_.emplace_back(path, shared);
  if (bytes_cache_.size() > kCacheEntries) bytes_cache_.pop_front();
  return shared;
}

absl::StatusOr<std::shared_ptr<const fl::TensorBundle>> ModelBlobs::SharedBundle(const std::string& path,
                                                                                const std::string& sha256) {
  {
    absl::MutexLock lock(&cache_mu_);
    for (const auto& [p, bundle] : bundle_cache_) {
      if (p == path) return bundle;
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle bundle, ReadBundle(path, sha256));
  auto shared = std::make_shared<const fl::TensorBundle>(std::move(bundle));
  absl::MutexLock lock(&cache_mu_);
  bundle_cache_.emplace_back(path, shared);
  if (bundle_cache_.size() > kCacheEntries) bundle_cache_.pop_front();
  return shared;
}

}  // namespace fedlog::server
