// The aggregator's DP state (schema migrations 4 and 5, server/state_schema.h): a database written before it
// opens, keeps its rounds (read as rounds without DP), and takes the new per-round epsilon and declines, which
// are kept once per site and round (duplicates older binaries wrote are folded into the first).
#include <stdlib.h>

#include <set>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "common/base/file_util.h"
#include "common/store/database.h"
#include "gtest/gtest.h"
#include "server/state_schema.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

std::string TempDb() {
  std::string tmpl = ::testing::TempDir() + "/state_privacy_XXXXXX";
  return JoinPath(mkdtemp(tmpl.data()), "aggregator.db");
}

TEST(StatePrivacy, OldDatabaseMigratesAndKeepsItsRounds) {
  const std::string path = TempDb();
  {
    std::vector<store::Migration> old = AggregatorMigrations();
    old.resize(3);  // the schema before differential privacy
    auto db = store::Database::Open(path, old);
    ASSERT_TRUE(db.ok()) << db.status();
    (*db)->raw().exec(
        "INSERT INTO runs (run_id, plan, state, global_version, started_ms) VALUES (1, x'', 'done', 1, 5)");
    (*db)->raw().exec(
        "INSERT INTO rounds (run_id, round, attempt, state, model_in, participants, opened_ms, deadline_ms) "
        "VALUES (1, 1, 1, 'done', 1, 'site-a', 10, 20)");
  }
  auto store = StateStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto rounds = (*store)->ListRounds(1);
  ASSERT_TRUE(rounds.ok()) << rounds.status();
  ASSERT_EQ(rounds->size(), 1u);
  EXPECT_EQ((*rounds)[0].participants, std::vector<std::string>{"site-a"});
  EXPECT_EQ((*rounds)[0].epsilon, 0);
  EXPECT_EQ((*rounds)[0].dp_sampling_rate, 0);
  EXPECT_EQ((*rounds)[0].declined, 0);

  // New rounds carry their charge; declines are counted per site with the latest reason.
  RoundRecord r;
  r.run_id = 1;
  r.round = 2;
  r.attempt = 1;
  r.model_in = 1;
  r.participants = {"site-a", "site-b"};
  r.dp_sampling_rate = 0.5;
  r.epsilon = 1.25;
  ASSERT_TRUE((*store)->OpenRound(r).ok());
  EXPECT_EQ((*store)->AddDecline("site-b", r, "first", 30).value_or(false), true);
  // Once per site and round (migration 5): a second decline of the round, in another attempt or after a
  // restart, changes nothing.
  EXPECT_EQ((*store)->AddDecline("site-b", r, "again", 31).value_or(true), false);
  RoundRecord retry = r;
  retry.attempt = 2;
  EXPECT_EQ((*store)->AddDecline("site-b", retry, "again", 32).value_or(true), false);
  RoundRecord next = r;
  next.round = 3;
  EXPECT_EQ((*store)->AddDecline("site-b", next, std::string(2000, 'x'), 33).value_or(false), true);
  rounds = (*store)->ListRounds(1);
  ASSERT_EQ(rounds->size(), 2u);
  EXPECT_DOUBLE_EQ((*rounds)[1].dp_sampling_rate, 0.5);
  EXPECT_DOUBLE_EQ((*rounds)[1].epsilon, 1.25);
  EXPECT_EQ((*rounds)[1].declined, 1);
  EXPECT_EQ((*store)->DeclinedSites(1, 2).value_or(std::set<std::string>{}), std::set<std::string>{"site-b"});
  EXPECT_TRUE((*store)->DeclinedSites(1, 4).value_or(std::set<std::string>{"x"}).empty());
  auto declines = (*store)->ListDeclines(1);
  ASSERT_TRUE(declines.ok());
  ASSERT_EQ(declines->size(), 1u);
  EXPECT_EQ((*declines)[0].site_id(), "site-b");
  EXPECT_EQ((*declines)[0].count(), 2);
  EXPECT_EQ((*declines)[0].last_reason().size(), StateStore::kMaxRefusalReason);
}

TEST(StatePrivacy, DuplicateDeclinesOfOlderBinariesAreFoldedIntoOne) {
  const std::string path = TempDb();
  {
    std::vector<store::Migration> old = AggregatorMigrations();
    old.resize(4);  // before declines were kept once per site and round
    auto db = store::Database::Open(path, old);
    ASSERT_TRUE(db.ok()) << db.status();
    for (const char* row : {"('site-b', 1, 1, 1, 'first', 10)", "('site-b', 1, 1, 1, 'again', 20)",
                            "('site-b', 1, 1, 2, 'retry', 30)", "('site-c', 1, 1, 1, 'other', 40)"}) {
      (*db)->raw().exec(std::string("INSERT INTO declines (site_id, run_id, round, attempt, reason, at_ms) VALUES ") +
                        row);
    }
  }
  auto store = StateStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto declines = (*store)->ListDeclines(1);
  ASSERT_TRUE(declines.ok()) << declines.status();
  ASSERT_EQ(declines->size(), 2u);
  EXPECT_EQ((*declines)[0].site_id(), "site-b");
  EXPECT_EQ((*declines)[0].count(), 1);
  EXPECT_EQ((*declines)[0].last_reason(), "first");
  EXPECT_EQ((*declines)[1].count(), 1);
}

}  // namespace
}  // namespace fedlog::server
