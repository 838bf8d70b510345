// Database: a SQLite connection (via SQLiteCpp) with schema migrations and Status-returning helpers.
// SQLite::Exception is caught here and turned into a Status; nothing above this layer sees an exception.
// WAL mode and a busy timeout are set on open. Thread-compatible: callers serialise access to one Database
// (the server guards it with a mutex).
#ifndef FEDLOG_COMMON_STORE_DATABASE_H_
#define FEDLOG_COMMON_STORE_DATABASE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace fedlog::store {

// One schema step. Steps run in order, each in its own transaction, and PRAGMA user_version records how many
// have run, so a crash mid-migration leaves the database at the last complete step.
struct Migration {
  int version;      // 1, 2, ... consecutive
  std::string sql;  // one or more statements
};

class Database {
 public:
  // Opens (creating if needed) the database at `path` and applies `migrations` not yet applied.
  // FailedPrecondition when the file's schema is newer than the migrations this binary knows.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const std::vector<Migration>& migrations);
  ~Database();

  int schema_version() const { return schema_version_; }

  // Runs SQL with no result rows.
  absl::Status Exec(const std::string& sql);

  // Runs `fn` inside BEGIN IMMEDIATE .. COMMIT; rolls back when fn returns an error or throws SQLite::Exception.
  absl::Status Transaction(const std::function<absl::Status()>& fn);

  // Prepares a statement; the callback binds, steps and reads it. Exceptions inside become Status.
  absl::Status WithStatement(const std::string& sql, const std::function<absl::Status(SQLite::Statement&)>& fn);

  SQLite::Database& raw() { return *db_; }

 private:
  explicit Database(std::unique_ptr<SQLite::Database> db);
  absl::Status Migrate(const std::vector<Migration>& migrations);

  std::unique_ptr<SQLite::Database> db_;
  int schema_version_ = 0;
};

}  // namespace fedlog::store

#endif  // FEDLOG_COMMON_STORE_DATABASE_H_
