#include "server/model_blobs.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/strategy.h"

namespace fedlog::server {
namespace {

// 128 random bits as hex, from OpenSSL: spool and update names nobody can predict or choose.
absl::StatusOr<std::string> RandomName() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("RAND_bytes failed");
  std::string out;
  for (unsigned char b : bytes) absl::StrAppendFormat(&out, "%02x", b);
  return out;
}

// A cache key for a source set that no two different sets share, whatever characters the names hold.
std::string SourcesKey(int64_t version, const std::vector<std::string>& sorted) {
  std::string key = absl::StrCat(version);
  for (const std::string& s : sorted) absl::StrAppend(&key, "|", s.size(), ":", s);
  return key;
}

}  // namespace

absl::Status ModelBlobs::Init() {
  FEDLOG_RETURN_IF_ERROR(MakeDirs(JoinPath(data_dir_, "models"), true));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(JoinPath(data_dir_, "updates/incoming"), true));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(ScratchDir(), true));
  // Spooled uploads and scratch files of a previous process never completed; sites re-send their updates.
  std::error_code ec;
  for (const std::string& dir : {JoinPath(data_dir_, "updates/incoming"), ScratchDir()}) {
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove(e.path(), ec);
  }
  // Download variants are a cache (BlobForSources remakes them); the previous process's are not tracked. A
  // model a crash interrupted mid-write is its "<name>.tmp" (fl::BundleFileWriter; no row names it, and the
  // round that made it is aggregated again).
  for (const auto& e : std::filesystem::directory_iterator(JoinPath(data_dir_, "models"), ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StrContains(name, ".src-") || absl::EndsWith(name, ".tmp")) std::filesystem::remove(e.path(), ec);
  }
  // Temporary copies of WriteFileAtomic (optimiser states, kind counts) whose writer was killed.
  for (const std::string& path : RemoveStaleAtomicTemps(data_dir_)) {
    FEDLOG_LOG(INFO) << "removed " << path << ", left by an interrupted write";
  }
  return absl::OkStatus();
}

std::string ModelBlobs::ModelPath(int64_t version) const {
  return JoinPath(data_dir_, absl::StrFormat("models/v%06d.bundle", version));
}

void ModelBlobs::RememberLayout(const std::string& path, std::shared_ptr<const fl::BundleLayout> layout) {
  verified_.insert(path);
  for (auto& [p, cached] : layout_cache_) {
    if (p == path) {
      cached = std::move(layout);
      return;
    }
  }
  layout_cache_.emplace_back(path, std::move(layout));
  if (layout_cache_.size() > kLayoutEntries) layout_cache_.pop_front();
}

absl::StatusOr<StoredBlob> ModelBlobs::WriteModel(int64_t version, const fl::TensorBundle& bundle) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<fl::BundleFileWriter> writer, BeginModel(version));
  for (const auto& t : bundle.tensors) FEDLOG_RETURN_IF_ERROR(writer->Append(t));
  return CommitModel(version, writer.get(), fl::LayoutOf(bundle));
}

absl::StatusOr<std::unique_ptr<fl::BundleFileWriter>> ModelBlobs::BeginModel(int64_t version) const {
  return fl::BundleFileWriter::Create(ModelPath(version));
}

absl::StatusOr<StoredBlob> ModelBlobs::CommitModel(int64_t version, fl::BundleFileWriter* writer,
                                                   fl::BundleLayout layout) {
  StoredBlob blob;
  blob.path = ModelPath(version);
  FEDLOG_ASSIGN_OR_RETURN(fl::BundleFileInfo info, writer->Finish());
  blob.sha256 = info.sha256;
  blob.size_bytes = info.size_bytes;
  // The layout is known without reading the file back: the round's downloads and validations find it cached.
  absl::MutexLock lock(&cache_mu_);
  RememberLayout(blob.path, std::make_shared<const fl::BundleLayout>(std::move(layout)));
  return blob;
}

absl::StatusOr<std::string> ModelBlobs::IncomingPath() const {
  FEDLOG_ASSIGN_OR_RETURN(std::string name, RandomName());
  return JoinPath(data_dir_, absl::StrCat("updates/incoming/", name, ".part"));
}

std::string ModelBlobs::ScratchDir() const { return JoinPath(data_dir_, "updates/scratch"); }

absl::StatusOr<StoredBlob> ModelBlobs::AdoptUpdate(int64_t run_id, int32_t round, int32_t attempt,
                                                   const std::string& spooled_path, const std::string& sha256) {
  std::string dir = JoinPath(data_dir_, absl::StrFormat("updates/run%d/round%d.%d", run_id, round, attempt));
  FEDLOG_RETURN_IF_ERROR(MakeDirs(dir, true));
  FEDLOG_ASSIGN_OR_RETURN(int64_t size, FileSize(spooled_path));
  FEDLOG_ASSIGN_OR_RETURN(std::string name, RandomName());
  StoredBlob blob{JoinPath(dir, name + ".bundle"), sha256, size};
  // RENAME_NOREPLACE: a name that somehow exists is an error, never a silent replacement of a stored update.
  if (::renameat2(AT_FDCWD, spooled_path.c_str(), AT_FDCWD, blob.path.c_str(), RENAME_NOREPLACE) != 0) {
    return absl::InternalError("cannot move a spooled update into place");
  }
  return blob;
}

absl::StatusOr<fl::TensorBundle> ModelBlobs::ReadBundle(const std::string& path, const std::string& sha256) const {
  return fl::ReadBundleFileWhole(path, {sha256});
}

absl::StatusOr<std::shared_ptr<const fl::BundleLayout>> ModelBlobs::SharedLayout(const std::string& path,
                                                                                const std::string& sha256) {
  auto cached = [&]() -> std::shared_ptr<const fl::BundleLayout> {
    absl::MutexLock lock(&cache_mu_);
    for (const auto& [p, layout] : layout_cache_) {
      if (p == path) return layout;
    }
    return nullptr;
  };
  if (auto layout = cached()) return layout;
  absl::MutexLock reading(&layout_read_mu_);
  if (auto layout = cached()) return layout;  // another caller read it meanwhile
  FEDLOG_ASSIGN_OR_RETURN(fl::BundleLayout layout, fl::ReadBundleLayout(path, {sha256}));
  auto shared = std::make_shared<const fl::BundleLayout>(std::move(layout));
  absl::MutexLock lock(&cache_mu_);
  RememberLayout(path, shared);
  return shared;
}

bool ModelBlobs::IsVerified(const std::string& path) {
  absl::MutexLock lock(&cache_mu_);
  return verified_.count(path) > 0;
}

absl::Status ModelBlobs::VerifyOnce(const StoredBlob& blob) {
  {
    absl::MutexLock lock(&cache_mu_);
    if (verified_.count(blob.path)) return absl::OkStatus();
  }
  std::FILE* f = std::fopen(blob.path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", blob.path));
  Sha256 digest;
  std::string buf(1 << 16, '\0');
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) digest.Update(absl::string_view(buf.data(), n));
  std::fclose(f);
  if (digest.FinalHex() != blob.sha256) {
    return absl::DataLossError(absl::StrCat("blob '", blob.path, "' does not match its sha256"));
  }
  absl::MutexLock lock(&cache_mu_);
  verified_.insert(blob.path);
  return absl::OkStatus();
}

absl::StatusOr<StoredBlob> ModelBlobs::BlobForSources(int64_t version, const StoredBlob& model,
                                                      const std::vector<std::string>& sources, bool all) {
  if (all) return model;
  FEDLOG_ASSIGN_OR_RETURN(auto layout, SharedLayout(model.path, model.sha256));
  std::vector<std::string> mine = sources;
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  auto keep = [&mine](const std::string& name) {
    const std::string source = fl::AdapterSource(name);
    if (!absl::StartsWith(name, "adapter.")) return true;
    return !source.empty() && std::binary_search(mine.begin(), mine.end(), source);
  };
  if (std::all_of(layout->begin(), layout->end(), [&](const fl::TensorShape& t) { return keep(t.name); })) {
    return model;
  }
  const std::string key = SourcesKey(version, mine);
  auto lookup = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_) -> std::optional<StoredBlob> {
    for (auto it = variants_.begin(); it != variants_.end(); ++it) {
      if (it->first != key) continue;
      variants_.splice(variants_.end(), variants_, it);  // most recently used last
      return variants_.back().second;
    }
    return std::nullopt;
  };
  {
    absl::MutexLock lock(&cache_mu_);
    if (auto v = lookup()) return *v;
  }
  absl::MutexLock writing(&variant_write_mu_);
  {
    absl::MutexLock lock(&cache_mu_);
    if (auto v = lookup()) return *v;
  }
  StoredBlob variant;
  variant.path = JoinPath(data_dir_, absl::StrFormat("models/v%06d.src-%s.bundle", version,
                                                     Sha256Hex(key).substr(0, 24)));
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<fl::BundleFileWriter> writer, fl::BundleFileWriter::Create(variant.path));
  FEDLOG_RETURN_IF_ERROR(fl::ReadBundleFile(model.path, {model.sha256}, [&](fl::NamedTensor&& t) {
    return keep(t.name) ? writer->Append(t) : absl::OkStatus();
  }));
  FEDLOG_ASSIGN_OR_RETURN(fl::BundleFileInfo info, writer->Finish());
  variant.sha256 = info.sha256;
  variant.size_bytes = info.size_bytes;
  absl::MutexLock lock(&cache_mu_);
  if (deleted_.count(version)) {
    // DeleteModel ran while this variant was written (it does not wait for writers): the variant goes too.
    std::remove(variant.path.c_str());
    return absl::NotFoundError(absl::StrCat("model v", version, " was deleted (model retention)"));
  }
  verified_.insert(variant.path);
  variants_.emplace_back(key, variant);
  while (static_cast<int32_t>(variants_.size()) > max_variants_) {
    // Deleted under cache_mu_, which Open also holds: a download either opened the file before (and keeps
    // reading it) or finds it gone and asks for the variant again.
    const std::string& old = variants_.front().second.path;
    std::remove(old.c_str());
    verified_.erase(old);
    variants_.pop_front();
  }
  return variant;
}

absl::StatusOr<std::shared_ptr<std::FILE>> ModelBlobs::Open(const StoredBlob& blob) {
  absl::MutexLock lock(&cache_mu_);
  std::FILE* f = std::fopen(blob.path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError("model blob is missing");
  return std::shared_ptr<std::FILE>(f, &std::fclose);
}

absl::Status ModelBlobs::DeleteModel(int64_t version, const std::string& path) {
  // Only cache_mu_ (held briefly by everyone), never variant_write_mu_: a variant being written (a whole model
  // read and written) must not hold up the caller, the coordinator's retention under its lock. A writer of a
  // variant of `version` finds it in deleted_ when it finishes and removes its file.
  absl::MutexLock lock(&cache_mu_);
  deleted_.insert(version);
  const std::string prefix = JoinPath(data_dir_, absl::StrFormat("models/v%06d.src-", version));
  std::vector<std::string> files = {path};
  for (auto it = variants_.begin(); it != variants_.end();) {
    if (!absl::StartsWith(it->second.path, prefix)) {
      ++it;
      continue;
    }
    files.push_back(it->second.path);
    it = variants_.erase(it);
  }
  layout_cache_.erase(std::remove_if(layout_cache_.begin(), layout_cache_.end(),
                                     [&](const auto& entry) { return entry.first == path; }),
                      layout_cache_.end());
  for (const std::string& f : files) {
    verified_.erase(f);
    std::error_code ec;
    if (!std::filesystem::remove(f, ec) && ec) {
      return absl::InternalError(absl::StrCat("cannot delete ", f, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

int ModelBlobs::VariantCount() {
  absl::MutexLock lock(&cache_mu_);
  return static_cast<int>(variants_.size());
}

}  // namespace fedlog::server
