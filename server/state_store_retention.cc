// Model retention: which model versions keep their files (StateStore::MarkModelsDeleted, DeletedModelPaths).
#include <SQLiteCpp/SQLiteCpp.h>

#include "common/base/status_macros.h"
#include "server/state_store.h"

namespace fedlog::server {

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> StateStore::MarkModelsDeleted(
    int32_t keep_newest, const std::set<int64_t>& in_use, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, std::string>> marked;
  FEDLOG_RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    SQLite::Statement old(db_->raw(),
                          "SELECT version, path FROM models WHERE deleted_ms = 0 "
                          "AND version NOT IN (SELECT version FROM models ORDER BY version DESC LIMIT ?) "
                          "AND version NOT IN (SELECT version FROM promotions WHERE rolled_back = 0) "
                          "ORDER BY version");
    old.bind(1, keep_newest);
    while (old.executeStep()) {
      const int64_t version = old.getColumn(0).getInt64();
      if (!in_use.count(version)) marked.emplace_back(version, old.getColumn(1).getString());
    }
    for (const auto& [version, path] : marked) {
      SQLite::Statement mark(db_->raw(), "UPDATE models SET deleted_ms = ? WHERE version = ?");
      mark.bind(1, static_cast<int64_t>(now_ms));
      mark.bind(2, static_cast<int64_t>(version));
      mark.exec();
    }
    return absl::OkStatus();
  }));
  return marked;
}

absl::StatusOr<std::vector<std::string>> StateStore::DeletedModelPaths() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  FEDLOG_RETURN_IF_ERROR(db_->WithStatement("SELECT path FROM models WHERE deleted_ms > 0 ORDER BY version",
                                            [&](SQLite::Statement& s) {
                                              while (s.executeStep()) out.push_back(s.getColumn(0).getString());
                                              return absl::OkStatus();
                                            }));
  return out;
}

}  // namespace fedlog::server
