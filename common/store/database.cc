#include "common/store/database.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "absl/strings/str_cat.h"

namespace fedlog::store {
namespace {

absl::Status FromException(const std::exception& e, absl::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite: ", what, ": ", e.what()));
}

}  // namespace

Database::Database(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
Database::~Database() = default;

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         const std::vector<Migration>& migrations) {
  std::unique_ptr<SQLite::Database> raw;
  try {
    raw = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw->setBusyTimeout(5000);
    raw->exec("PRAGMA journal_mode=WAL");
    raw->exec("PRAGMA synchronous=NORMAL");
    raw->exec("PRAGMA foreign_keys=ON");
  } catch (const std::exception& e) {
    return FromException(e, absl::StrCat("opening '", path, "'"));
  }
  std::unique_ptr<Database> db(new Database(std::move(raw)));
  if (absl::Status st = db->Migrate(migrations); !st.ok()) return st;
  return db;
}

absl::Status Database::Migrate(const std::vector<Migration>& migrations) {
  try {
    schema_version_ = db_->execAndGet("PRAGMA user_version").getInt();
  } catch (const std::exception& e) {
    return FromException(e, "reading schema version");
  }
  int known = migrations.empty() ? 0 : migrations.back().version;
  if (schema_version_ > known) {
    return absl::FailedPreconditionError(absl::StrCat("database schema version ", schema_version_,
                                                      " is newer than this binary's ", known));
  }
  for (const Migration& m : migrations) {
    if (m.version <= schema_version_) continue;
    if (m.version != schema_version_ + 1) {
      return absl::InternalError(absl::StrCat("migration ", m.version, " is not consecutive"));
    }
    absl::Status st = Transaction([&]() -> absl::Status {
      db_->exec(m.sql);
      db_->exec(absl::StrCat("PRAGMA user_version = ", m.version));
      return absl::OkStatus();
    });
    if (!st.ok()) return absl::InternalError(absl::StrCat("migration ", m.version, " failed: ", st.message()));
    schema_version_ = m.version;
  }
  return absl::OkStatus();
}

absl::Status Database::Exec(const std::string& sql) {
  try {
    db_->exec(sql);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return FromException(e, sql.substr(0, 60));
  }
}

absl::Status Database::Transaction(const std::function<absl::Status()>& fn) {
  try {
    db_->exec("BEGIN IMMEDIATE");
  } catch (const std::exception& e) {
    return FromException(e, "begin");
  }
  absl::Status st;
  try {
    st = fn();
  } catch (const std::exception& e) {
    st = FromException(e, "in transaction");
  }
  try {
    db_->exec(st.ok() ? "COMMIT" : "ROLLBACK");
  } catch (const std::exception& e) {
    if (st.ok()) st = FromException(e, "commit");
  }
  return st;
}

absl::Status Database::WithStatement(const std::string& sql,
                                     const std::function<absl::Status(SQLite::Statement&)>& fn) {
  try {
    SQLite::Statement stmt(*db_, sql);
    return fn(stmt);
  } catch (const std::exception& e) {
    return FromException(e, sql.substr(0, 60));
  }
}

}  // namespace fedlog::store
