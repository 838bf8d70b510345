// The updates table's part norms (schema migration 7, server/state_schema.h): an update stored before the
// migration reads back without them (aggregation then computes them from the file); new ones keep them exactly.
#include <stdlib.h>

#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "common/base/file_util.h"
#include "common/fl/part_norms.h"
#include "common/store/database.h"
#include "gtest/gtest.h"
#include "server/state_schema.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

std::string TempDb() {
  std::string tmpl = ::testing::TempDir() + "/state_updates_XXXXXX";
  return JoinPath(mkdtemp(tmpl.data()), "aggregator.db");
}

TEST(StateUpdates, PartNormsAreKeptAndOldRowsHaveNone) {
  const std::string path = TempDb();
  {
    std::vector<store::Migration> old = AggregatorMigrations();
    old.resize(6);  // the schema before part norms
    auto db = store::Database::Open(path, old);
    ASSERT_TRUE(db.ok()) << db.status();
    (*db)->raw().exec(
        "INSERT INTO updates (run_id, round, attempt, site_id, num_samples, train_loss, path, sha256, received_ms) "
        "VALUES (1, 1, 1, 'site-a', 10, 0.5, '/u/a', 'aa', 5)");
  }
  auto store = StateStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  RoundRecord r;
  r.run_id = 1;
  r.round = 1;
  r.attempt = 1;
  fl::PartNorms parts;
  parts.shared = 0.1;
  parts.adapters["HDFS"] = 1.0 / 3;
  UpdateRecord b;
  b.site_id = "site-b";
  b.num_samples = 20;
  b.path = "/u/b";
  b.sha256 = "bb";
  b.part_norms = fl::EncodePartNorms(parts);
  ASSERT_TRUE((*store)->AddUpdate(r, b).ok());
  auto listed = (*store)->ListUpdates(1, 1, 1);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].site_id, "site-a");
  EXPECT_EQ((*listed)[0].part_norms, "");
  EXPECT_EQ((*listed)[1].part_norms, b.part_norms);
  auto back = fl::DecodePartNorms((*listed)[1].part_norms);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shared, 0.1);
  EXPECT_EQ(back->adapters, parts.adapters);
}

}  // namespace
}  // namespace fedlog::server
