#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "common/store/database.h"
#include "gtest/gtest.h"

namespace fedlog::store {
namespace {

std::string TempDb() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedlog_store_XXXXXX").string();
  return JoinPath(mkdtemp(tmpl.data()), "t.db");
}

int CountRows(Database& db, const std::string& table) {
  int n = -1;
  EXPECT_TRUE(db.WithStatement("SELECT COUNT(*) FROM " + table, [&](SQLite::Statement& s) {
                  s.executeStep();
                  n = s.getColumn(0).getInt();
                  return absl::OkStatus();
                }).ok());
  return n;
}

const std::vector<Migration> kV1 = {{1, "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);"}};

TEST(DatabaseTest, MigrationsRunOnceAndInOrder) {
  std::string path = TempDb();
  {
    auto db = Database::Open(path, kV1);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ((*db)->schema_version(), 1);
  }
  std::vector<Migration> v2 = kV1;
  v2.push_back({2, "CREATE TABLE b (y TEXT); INSERT INTO a VALUES (2);"});
  auto db = Database::Open(path, v2);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->schema_version(), 2);
  EXPECT_EQ(CountRows(**db, "a"), 2);  // migration 1 did not run again
  EXPECT_EQ(CountRows(**db, "b"), 0);
}

TEST(DatabaseTest, FailedMigrationRollsBackWholeStep) {
  std::string path = TempDb();
  std::vector<Migration> bad = kV1;
  bad.push_back({2, "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);"});
  auto db = Database::Open(path, bad);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("migration 2"), std::string::npos);
  auto again = Database::Open(path, kV1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->schema_version(), 1);
  EXPECT_FALSE((*again)->Exec("SELECT * FROM c").ok());  // table c was rolled back
}

TEST(DatabaseTest, NewerSchemaIsRefused) {
  std::string path = TempDb();
  std::vector<Migration> v2 = kV1;
  v2.push_back({2, "CREATE TABLE b (y TEXT);"});
  ASSERT_TRUE(Database::Open(path, v2).ok());
  auto old = Database::Open(path, kV1);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(DatabaseTest, TransactionRollsBackOnError) {
  auto db = Database::Open(TempDb(), kV1);
  ASSERT_TRUE(db.ok());
  absl::Status st = (*db)->Transaction([&]() -> absl::Status {
    (*db)->raw().exec("INSERT INTO a VALUES (5)");
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(CountRows(**db, "a"), 1);
  EXPECT_FALSE((*db)->Exec("INSERT INTO missing VALUES (1)").ok());
}

TEST(DatabaseTest, UnopenablePathIsAnError) {
  auto db = Database::Open("/nonexistent/dir/x.db", kV1);
  EXPECT_FALSE(db.ok());
}

}  // namespace
}  // namespace fedlog::store
