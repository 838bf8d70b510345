// Model retention (ServerConfig.keep_model_versions, docs/OPERATIONS.md "Model retention"). Every model version
// keeps its manifest row; its file is deleted once it is none of:
//   - the newest keep_model_versions versions;
//   - in the promotion history and not rolled back (the promoted version and every one `models rollback` can
//     go back to);
//   - in use by the active run (its global version, and the open round's starting model).
// The row is marked in one transaction before the files go, so a crash in between leaves files that
// SweepDeletedModels removes at the next start; never a row that names a missing file as kept. PruneModels runs
// under the coordinator's lock; ModelBlobs::DeleteModel does not wait for a download variant being written (that
// one is removed when it is done), so the lock is held for the unlinks only, not for a variant's model read.
#include <filesystem>
#include <set>
#include <string>
#include <system_error>

#include "common/base/logging.h"
#include "server/coordinator.h"

namespace fedlog::server {

void Coordinator::PruneModels() {
  std::set<int64_t> in_use;
  if (run_) in_use.insert(run_->global_version);
  if (round_) in_use.insert(round_->record.model_in);
  auto marked = store_->MarkModelsDeleted(options_.keep_model_versions, in_use, NowMs());
  if (!marked.ok()) {
    FEDLOG_LOG(ERROR) << "model retention: " << marked.status();
    return;
  }
  for (const auto& [version, path] : *marked) {
    if (absl::Status st = blobs_->DeleteModel(version, path); !st.ok()) {
      FEDLOG_LOG(ERROR) << "model retention: v" << version << ": " << st << " (retried at the next start)";
      continue;
    }
    FEDLOG_LOG(INFO) << "model v" << version << " deleted: past keep_model_versions ("
                     << options_.keep_model_versions << "), not promoted, not in use";
  }
}

void Coordinator::SweepDeletedModels() {
  auto paths = store_->DeletedModelPaths();
  if (!paths.ok()) {
    FEDLOG_LOG(ERROR) << "model retention: " << paths.status();
    return;
  }
  for (const std::string& path : *paths) {
    std::error_code ec;
    if (std::filesystem::remove(path, ec)) {
      FEDLOG_LOG(INFO) << "model retention: removed " << path << ", left by an interrupted deletion";
    } else if (ec) {
      FEDLOG_LOG(ERROR) << "model retention: cannot remove " << path << ": " << ec.message();
    }
  }
}

}  // namespace fedlog::server
