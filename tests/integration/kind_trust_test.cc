// One lying site against the federation's message-kind verdicts (docs/DETECTION.md "What one site can and
// cannot do"), over real mTLS on loopback: an update whose kind counts exceed the per-site bucket cap is
// refused and counted, the round completes with the honest sites, and a lie within the cap can neither flip
// the honest sites' verdict nor, alone, silence a kind.
#include <algorithm>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/site_kinds.h"
#include "common/base/file_util.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/kinds/kind_tally.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;

uint64_t K(const char* text) { return *kinds::KindSignature(text); }

// The counts a site running fedlog sends: `anomalous` and `normal` labelled units of `kind`, capped.
v1::KindCounts Honest(uint64_t kind, int anomalous, int normal) {
  kinds::KindTally t;
  for (int i = 0; i < anomalous; ++i) t.AddUnit({kind}, true);
  for (int i = 0; i < normal; ++i) t.AddUnit({kind}, false);
  return client::SparseKindCounts("HDFS", t.CappedSketch());
}

// What a liar sends instead: `normal` units of each of `kinds`, uncapped.
v1::KindCounts Uncapped(const std::vector<uint64_t>& kinds, int normal) {
  kinds::KindTally t;
  for (uint64_t k : kinds) {
    for (int i = 0; i < normal; ++i) t.AddUnit({k}, false);
  }
  return client::SparseKindCounts("HDFS", t.UncappedSketch());
}

class KindTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_kindtrust");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "mallory"}));
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    auto s = server::AggregatorServer::Start(cfg);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
};

TEST_F(KindTrustTest, ALiarsCountsAreCappedOrRefusedAndTheRoundCompletes) {
  const int port = server_->port();
  Site a(pki_, "site-a", port, "HDFS", 1000), b(pki_, "site-b", port, "HDFS", 1000);
  Site m(pki_, "mallory", port, "HDFS", 1000000);
  v1::RunPlan plan;
  plan.set_rounds(1);
  plan.set_min_sites(3);
  plan.set_round_deadline_s(30);
  v1::StartRunRequest req;
  *req.mutable_plan() = plan;
  v1::RunStatus run;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(testing::AdminStub(pki_, port)->StartRun(&ctx, req, &run).ok());
  }
  std::future<v1::RoundTask> fb = std::async(std::launch::async, [&b] { return b.WaitTask(); });
  std::future<v1::RoundTask> fm = std::async(std::launch::async, [&m] { return m.WaitTask(); });
  const v1::RoundTask ta = a.WaitTask(), tb = fb.get(), tm = fm.get();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok()) << base.status();
  fl::TensorBundle zero = base->bundle;
  for (auto& t : zero.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);

  const uint64_t incident = K("Exception in receiveBlock for block"), unseen = K("PendingReplicationMonitor timed out");
  // Mallory calls the honest sites' incident kind, and a kind nobody else labelled, normal: 500,000 times each.
  v1::UpdateHeader lie = Site::Header(tm);
  *lie.add_kind_counts() = Uncapped({incident, unseen}, 500000);
  const absl::Status refused = m.Upload(lie, zero);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find("cap"), std::string::npos) << refused;
  // The most it may send: the cap, on both kinds.
  kinds::KindTally t;
  for (int i = 0; i < 500000; ++i) t.AddUnit({incident, unseen}, false);
  v1::UpdateHeader capped_lie = Site::Header(tm);
  *capped_lie.add_kind_counts() = client::SparseKindCounts("HDFS", t.CappedSketch());
  ASSERT_TRUE(m.Upload(capped_lie, zero).ok());
  for (auto [site, task] : {std::make_pair(&a, ta), std::make_pair(&b, tb)}) {
    v1::UpdateHeader h = Site::Header(task);
    *h.add_kind_counts() = Honest(incident, 12, 0);
    ASSERT_TRUE(site->Upload(h, zero).ok());
  }
  const v1::RunStatus done = testing::WaitRun(testing::AdminStub(pki_, port).get(), run.run_id(),
                                              [](const v1::RunStatus& s) { return s.state() == "done"; });
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(done.refused_updates(), 1);
  ASSERT_EQ(done.rounds_size(), 1);
  auto next = a.session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->manifest.kind_counts_size(), 1);
  const v1::KindCounts& sum = next->manifest.kind_counts(0);
  auto sketch = kinds::KindSketch::FromSparse(std::vector<uint32_t>(sum.bucket().begin(), sum.bucket().end()),
                                              std::vector<double>(sum.count().begin(), sum.count().end()));
  ASSERT_TRUE(sketch.ok()) << sketch.status();
  const kinds::KindVerdictOptions defaults;
  EXPECT_DOUBLE_EQ(sketch->Anomalous(incident), 2 * kinds::kSiteBucketCap);
  EXPECT_DOUBLE_EQ(sketch->Normal(incident), kinds::kSiteBucketCap);  // the capped lie, no more
  EXPECT_NE(sketch->VerdictOf(incident, defaults), kinds::KindVerdict::kNormal);  // not flipped
  EXPECT_EQ(sketch->VerdictOf(unseen, defaults), kinds::KindVerdict::kNone);      // not silenced by one site
}

}  // namespace
}  // namespace fedlog
