// StateStore's secure-aggregation run state (migration 9, docs/rules/s26-securestate.md): it survives reopening
// the database, only the active run's is kept (a new run or another run's save deletes the rest), a save that
// fails midway leaves the previous state whole, and what is saved is bounded and checked.
#include <stdlib.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <string>

#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

std::string TempDb() {
  std::string tmpl = ::testing::TempDir() + "/state_secagg_XXXXXX";
  return JoinPath(mkdtemp(tmpl.data()), "aggregator.db");
}

std::unique_ptr<StateStore> OpenStore(const std::string& path) {
  auto store = StateStore::Open(path);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

SecAggRunState Sample(int64_t run_id) {
  SecAggRunState s;
  s.run_id = run_id;
  s.cohort_mode = true;
  s.clean_attempts = 2;
  s.excluded_round = 7;
  s.excluded = {"site-c", "site-d"};
  s.sit_out_round = 8;
  s.sit_out = "site-f";
  s.verdicts = {{{"site-f", "site-a"}, {"site-b", "site-c"}}, {{"site-f"}, {}}, {{"site-f", "site-b"}, {"site-a"}}};
  return s;
}

void ExpectSame(const SecAggRunState& want, const std::optional<SecAggRunState>& got) {
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->run_id, want.run_id);
  EXPECT_EQ(got->cohort_mode, want.cohort_mode);
  EXPECT_EQ(got->clean_attempts, want.clean_attempts);
  EXPECT_EQ(got->excluded_round, want.excluded_round);
  EXPECT_EQ(got->excluded, want.excluded);
  EXPECT_EQ(got->sit_out_round, want.sit_out_round);
  EXPECT_EQ(got->sit_out, want.sit_out);
  ASSERT_EQ(got->verdicts.size(), want.verdicts.size());
  for (size_t i = 0; i < want.verdicts.size(); ++i) {
    EXPECT_EQ(got->verdicts[i].suspects, want.verdicts[i].suspects) << i;
    EXPECT_EQ(got->verdicts[i].cleared, want.verdicts[i].cleared) << i;
  }
}

TEST(StateSecAgg, TheRunStateSurvivesReopeningTheDatabase) {
  const std::string path = TempDb();
  {
    std::unique_ptr<StateStore> store = OpenStore(path);
    ASSERT_NE(store, nullptr);
    absl::StatusOr<std::optional<SecAggRunState>> none = store->LoadSecAggState(1);
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(store->SaveSecAggState(Sample(1), 1000).ok());
  }
  std::unique_ptr<StateStore> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::optional<SecAggRunState>> got = store->LoadSecAggState(1);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(Sample(1), *got);
  // A later save replaces it whole: fewer verdicts, no exclusions, no sit-out.
  SecAggRunState later;
  later.run_id = 1;
  later.verdicts = {{{"site-a"}, {"site-b"}}};
  ASSERT_TRUE(store->SaveSecAggState(later, 2000).ok());
  got = store->LoadSecAggState(1);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(later, *got);
}

TEST(StateSecAgg, OnlyTheActiveRunsStateIsKept) {
  std::unique_ptr<StateStore> store = OpenStore(TempDb());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveSecAggState(Sample(1), 1000).ok());
  ASSERT_TRUE(store->SaveSecAggState(Sample(2), 1000).ok());
  EXPECT_FALSE(store->LoadSecAggState(1)->has_value());
  ExpectSame(Sample(2), *store->LoadSecAggState(2));
  // Starting a run ends every earlier run's state.
  absl::StatusOr<int64_t> run = store->CreateRun(v1::RunPlan(), 1, 3000);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_FALSE(store->LoadSecAggState(2)->has_value());
  EXPECT_FALSE(store->LoadSecAggState(*run)->has_value());
}

TEST(StateSecAgg, ASaveThatFailsMidwayLeavesThePreviousStateWhole) {
  const std::string path = TempDb();
  std::unique_ptr<StateStore> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveSecAggState(Sample(1), 1000).ok());
  {
    // The verdict rows are written after the state row and the deletes: a failure there must undo those.
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("CREATE TRIGGER fail_verdicts BEFORE INSERT ON secagg_verdicts BEGIN SELECT RAISE(ABORT, 'injected'); END");
  }
  SecAggRunState next = Sample(1);
  next.cohort_mode = false;
  next.sit_out.clear();
  EXPECT_FALSE(store->SaveSecAggState(next, 2000).ok());
  ExpectSame(Sample(1), *store->LoadSecAggState(1));
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("DROP TRIGGER fail_verdicts");
  }
  ASSERT_TRUE(store->SaveSecAggState(next, 3000).ok());
  ExpectSame(next, *store->LoadSecAggState(1));
}

TEST(StateSecAgg, WhatIsSavedIsBoundedAndChecked) {
  std::unique_ptr<StateStore> store = OpenStore(TempDb());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveSecAggState(Sample(1), 1000).ok());
  SecAggRunState bad = Sample(1);
  bad.verdicts.resize(StateStore::kMaxSecAggVerdicts + 1);
  EXPECT_EQ(store->SaveSecAggState(bad, 2000).code(), absl::StatusCode::kInvalidArgument);
  bad = Sample(1);
  bad.excluded.insert("a,b");  // would split into two ids when read back
  EXPECT_EQ(store->SaveSecAggState(bad, 2000).code(), absl::StatusCode::kInvalidArgument);
  bad = Sample(1);
  bad.verdicts[0].cleared.insert("");
  EXPECT_EQ(store->SaveSecAggState(bad, 2000).code(), absl::StatusCode::kInvalidArgument);
  bad = Sample(0);
  EXPECT_EQ(store->SaveSecAggState(bad, 2000).code(), absl::StatusCode::kInvalidArgument);
  ExpectSame(Sample(1), *store->LoadSecAggState(1));  // nothing of the refused saves was written
}

}  // namespace
}  // namespace fedlog::server
