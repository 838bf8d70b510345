// StateStore::ForgetSite (`fedlog sites forget`): only the entry of a site that never said hello and that nothing
// in the database names goes; every other entry stays, with a message that says why.
#include <stdlib.h>

#include <string>

#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "server/state_store.h"

namespace fedlog::server {
namespace {

std::unique_ptr<StateStore> TempStore() {
  std::string tmpl = ::testing::TempDir() + "/state_forget_XXXXXX";
  auto store = StateStore::Open(JoinPath(mkdtemp(tmpl.data()), "aggregator.db"));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

bool Listed(StateStore* store, const std::string& id) {
  auto site = store->GetSite(id);
  EXPECT_TRUE(site.ok()) << site.status();
  return site.ok() && site->has_value();
}

TEST(StateForget, OnlyASiteThatNeverConnectedAndHoldsNothingGoes) {
  std::unique_ptr<StateStore> store = TempStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SetRevoked("typo-revoked", true).ok());
  ASSERT_TRUE(store->SetSources("typo-admitted", std::vector<std::string>{"HDFS"}, {}, 1000).ok());
  EXPECT_TRUE(store->ForgetSite("typo-revoked").ok());
  EXPECT_TRUE(store->ForgetSite("typo-admitted").ok());
  EXPECT_FALSE(Listed(store.get(), "typo-revoked"));
  EXPECT_FALSE(Listed(store.get(), "typo-admitted"));
  EXPECT_EQ(store->ForgetSite("typo-revoked").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(store->UpsertSiteHello("site-a", v1::HelloRequest(), 1000).ok());
  absl::Status st = store->ForgetSite("site-a");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("has connected"), std::string::npos) << st;
  EXPECT_TRUE(Listed(store.get(), "site-a"));

  // A row that never said hello but that an update names (an id revoked after its update was stored and its
  // hello row lost is not a state the aggregator makes; the check guards the history all the same).
  ASSERT_TRUE(store->SetRevoked("site-u", true).ok());
  RoundRecord r;
  r.run_id = 1;
  r.round = 1;
  r.attempt = 1;
  UpdateRecord u;
  u.site_id = "site-u";
  u.num_samples = 5;
  u.path = "/u/x";
  u.sha256 = "aa";
  ASSERT_TRUE(store->AddUpdate(r, u).ok());
  st = store->ForgetSite("site-u");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("holds 1 update(s)"), std::string::npos) << st;
  EXPECT_TRUE(Listed(store.get(), "site-u"));
}

}  // namespace
}  // namespace fedlog::server
