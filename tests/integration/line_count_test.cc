// The line count under line-level DP over real mTLS on loopback (docs/PRIVACY.md, "The line count under line
// DP" and "Line counts in Hello"): the run plan's count noise (RunPlan 60) reaches the sites' tasks, each daemon
// charges its release at that stddev and states it in its upload's header, the aggregator refuses a line-DP
// upload that states less (or none), a site whose policy wants DP withholds its line counts from Hello, and a
// site whose count-noise floor is above the plan's declines the round.
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "client/federation_session.h"
#include "client/site_daemon.h"
#include "client/site_ledger.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/line_dp_plan.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using testing::AdminStub;

class LineCountTest : public testing::AggregatorTest {
 protected:
  void SetUp() override {
    StartAggregator("fedlog_line_count", {"site-a", "site-b", "hand"}, [](v1::ServerConfig* config) {
      ASSERT_TRUE(testing::UseTinyLineEncoder(config, /*out_dim=*/8, /*adapter_dim=*/4));
    });
  }

  // A one-round line-DP run with a little contrastive DP-SGD (the sites have no labelled lines);
  // count_noise 0 leaves RunPlan 60 unset (the aggregator fills in 100).
  v1::RunStatus StartLineRun(int min_sites, double count_noise) {
    v1::StartRunRequest req = testing::SmallLineDpRun(/*rounds=*/1, min_sites);
    v1::RunPlan* plan = req.mutable_plan();
    plan->mutable_training()->set_local_epochs(1);
    plan->set_line_dp_count_noise(count_noise);
    return StartRun(req);
  }
};

// The plan's s reaches both daemons: each ledger holds one count release at s (not the old constant 100), the
// aggregator accepted both uploads (it refuses one stating less), and the site with a DP policy sent no line
// count in Hello while the other did.
TEST_F(LineCountTest, PlanCountNoiseIsUsedChargedAndStatedAndADpSiteWithholdsItsLines) {
  StartSite("site-a");
  v1::SitePrivacyPolicy dp;
  dp.set_require_dp(true);
  StartSite("site-b", dp);
  WaitOnline(2);
  const v1::ListSitesResponse sites = Sites();
  ASSERT_EQ(sites.sites_size(), 2);
  for (const auto& s : sites.sites()) {
    ASSERT_EQ(s.sources_size(), 1) << s.site_id();
    if (s.site_id() == "site-b") {
      EXPECT_TRUE(s.sources(0).lines_withheld());
      EXPECT_EQ(s.sources(0).lines(), 0);
    } else {
      EXPECT_FALSE(s.sources(0).lines_withheld());
      EXPECT_EQ(s.sources(0).lines(), 300);
    }
  }
  const double s = 37.5;
  v1::RunStatus started = StartLineRun(/*min_sites=*/2, s);
  EXPECT_DOUBLE_EQ(started.plan().line_dp_count_noise(), s);
  v1::RunStatus done = WaitFinished(started.run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).sites(), 2);
  for (const char* site : {"site-a", "site-b"}) {
    auto ledger = client::SiteLedger::Open(client::SiteLedger::PathIn(JoinPath(dir_, site)), 1e-5);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    int at_s = 0;
    for (const auto& e : ledger->entries()) {
      EXPECT_NE(e.step.noise_multiplier, 100.0) << site;  // the old constant is gone
      if (e.step.noise_multiplier == s) {
        ++at_s;
        EXPECT_DOUBLE_EQ(e.step.sampling_rate, 1.0);
        EXPECT_EQ(e.step.steps, 1);
      }
    }
    EXPECT_EQ(at_s, 1) << site;
  }
}

// A hand-made site speaks the protocol: the task carries the plan's default s = 100; a line-DP upload stating no
// count noise, or less than the plan's, is refused; one stating the plan's is taken.
TEST_F(LineCountTest, AggregatorRefusesALineDpUploadStatingLessCountNoise) {
  client::FederationSession hand(testing::SiteChannel(pki_, "hand", server_->port()));
  v1::HelloRequest hello;
  hello.add_sources()->set_name("HDFS");
  ASSERT_TRUE(hand.Hello(hello).ok());
  v1::RunStatus started = StartLineRun(/*min_sites=*/1, /*count_noise=*/0);
  EXPECT_DOUBLE_EQ(started.plan().line_dp_count_noise(), 100);
  v1::RoundTask task = testing::WaitRoundTask(&hand);
  ASSERT_EQ(task.dp_mode(), "line");
  EXPECT_DOUBLE_EQ(task.plan().line_dp_count_noise(), 100);
  auto base = hand.Download(task.model_version());
  ASSERT_TRUE(base.ok()) << base.status();
  fl::TensorBundle zero = base->bundle;
  for (auto& t : zero.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  const std::string bytes = *fl::EncodeBundle(zero);
  v1::UpdateHeader h;
  h.set_run_id(task.run_id());
  h.set_round(task.round());
  h.set_base_version(task.model_version());
  h.set_num_samples(120);
  for (double stated : {0.0, 99.0}) {
    h.set_line_dp_count_noise(stated);
    absl::Status st = hand.Upload(h, bytes);
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << stated << ": " << st;
    EXPECT_NE(st.message().find("count noise"), std::string::npos) << st;
  }
  h.set_line_dp_count_noise(100);
  absl::Status ok = hand.Upload(h, bytes);
  EXPECT_TRUE(ok.ok()) << ok;
  v1::RunStatus done = WaitFinished(started.run_id());
  EXPECT_EQ(done.state(), "done") << done.message();
}

// A site whose policy asks for more count noise than the plan's declines the round; the aggregator counts it.
TEST_F(LineCountTest, SiteWithAHigherCountNoiseFloorDeclines) {
  StartSite("site-a");
  v1::SitePrivacyPolicy floor;
  floor.set_min_count_noise(500);
  StartSite("site-b", floor);
  WaitOnline(2);
  v1::RunStatus started = StartLineRun(/*min_sites=*/1, /*count_noise=*/200);
  v1::RunStatus done = WaitFinished(started.run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.declines_size(), 1);
  EXPECT_EQ(done.declines(0).site_id(), "site-b");
  EXPECT_NE(done.declines(0).last_reason().find("min_count_noise"), std::string::npos)
      << done.declines(0).last_reason();
  EXPECT_FALSE(FileExists(client::SiteLedger::PathIn(JoinPath(dir_, "site-b"))));
}

}  // namespace
}  // namespace fedlog
