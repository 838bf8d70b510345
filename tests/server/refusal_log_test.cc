// RefusalLog (server/refusal_log.h): a site's refusals in a run get rows up to a cap, then one counted row written
// at most once per interval; every refusal is counted; refusals naming a run that is not running are never
// written; a restarted aggregator carries on from what was written.
#include <stdlib.h>

#include <memory>
#include <string>

#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "server/refusal_log.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

class RefusalLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/refusal_log_XXXXXX";
    path_ = JoinPath(mkdtemp(tmpl.data()), "aggregator.db");
    auto store = StateStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto run = store_->CreateRun(v1::RunPlan(), 1, 1000);
    ASSERT_TRUE(run.ok()) << run.status();
    run_ = *run;
  }

  int64_t Count(RefusalLog& log) {
    auto n = log.Count(run_);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  StateStore::SiteRefusalCounts Stored(const std::string& site) {
    auto c = store_->SiteRefusals(site, run_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : StateStore::SiteRefusalCounts{};
  }

  std::string path_;
  std::unique_ptr<StateStore> store_;
  int64_t run_ = 0;
};

TEST_F(RefusalLogTest, RowsUpToTheCapThenACountWrittenAtMostOncePerInterval) {
  RefusalLog log(store_.get());
  const int64_t cap = RefusalLog::kRowsPerSite;
  int64_t now = 10000;
  for (int64_t i = 0; i < cap; ++i) log.Record("site-a", run_, 1, "update sha256 mismatch", now);
  EXPECT_EQ(Stored("site-a").rows, cap);
  EXPECT_EQ(Stored("site-a").overflow, 0);
  // A flood within one interval: the first past the cap is written, the rest only counted in memory.
  for (int i = 0; i < 5000; ++i) log.Record("site-a", run_, 1, "update sha256 mismatch", now + i / 10);
  EXPECT_EQ(Stored("site-a").rows, cap);
  EXPECT_EQ(Stored("site-a").overflow, 1);
  EXPECT_EQ(Count(log), cap + 5000);  // what is not written yet is counted too
  // The next refusal after the interval writes the whole count.
  log.Record("site-a", run_, 1, "late update", now + 500 + RefusalLog::kPersistIntervalMs);
  EXPECT_EQ(Stored("site-a").overflow, 5001);
  EXPECT_EQ(Count(log), cap + 5001);
  // Another site has its own rows.
  log.Record("site-b", run_, 1, "late update", now);
  EXPECT_EQ(Stored("site-b").rows, 1);
  EXPECT_EQ(Count(log), cap + 5002);
}

TEST_F(RefusalLogTest, ARunThatIsNotRunningIsNeverWritten) {
  RefusalLog log(store_.get());
  for (int64_t run : {int64_t{0}, int64_t{-1}, run_ + 1, int64_t{1} << 62}) {
    for (int i = 0; i < 300; ++i) log.Record("site-a", run, 1, "run is not active", 5000 + i);
  }
  EXPECT_EQ(Stored("site-a").rows, 0);
  EXPECT_EQ(Stored("site-a").overflow, 0);
  EXPECT_EQ(Count(log), 0);
  // Refusals of a finished run are no longer written either.
  log.Record("site-a", run_, 1, "x", 6000);
  ASSERT_TRUE(store_->EndRun(run_, "done", "", 7000).ok());
  RefusalLog after(store_.get());
  for (int i = 0; i < 300; ++i) after.Record("site-a", run_, 1, "x", 8000 + i);
  EXPECT_EQ(Stored("site-a").rows, 1);
}

TEST_F(RefusalLogTest, ARestartCarriesOnFromWhatWasWritten) {
  const int64_t cap = RefusalLog::kRowsPerSite;
  {
    RefusalLog log(store_.get());
    for (int64_t i = 0; i < cap + 10; ++i) log.Record("site-a", run_, 2, "x", 1000 + i * 2000);
  }
  EXPECT_EQ(Stored("site-a").rows, cap);
  EXPECT_EQ(Stored("site-a").overflow, 10);
  RefusalLog restarted(store_.get());
  EXPECT_EQ(Count(restarted), cap + 10);
  restarted.Record("site-a", run_, 2, "x", 1'000'000'000);
  EXPECT_EQ(Stored("site-a").rows, cap);  // no new row past the cap after a restart
  EXPECT_EQ(Stored("site-a").overflow, 11);
}

}  // namespace
}  // namespace fedlog::server
