#include "server/model_blobs.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"

namespace fedlog::server {

absl::Status ModelBlobs::Init() {
  FEDLOG_RETURN_IF_ERROR(MakeDirs(JoinPath(data_dir_, "models"), true));
  return MakeDirs(JoinPath(data_dir_, "updates"), true);
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

absl::StatusOr<StoredBlob> ModelBlobs::WriteUpdate(int64_t run_id, int32_t round, int32_t attempt,
                                                   const std::string& site, const std::string& bytes,
                                                   const std::string& sha256) {
  std::string dir = JoinPath(data_dir_, absl::StrFormat("updates/run%d/round%d.%d", run_id, round, attempt));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(dir, true));
  StoredBlob blob{JoinPath(dir, site + ".bundle"), sha256, static_cast<int64_t>(bytes.size())};
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(blob.path, bytes));
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
