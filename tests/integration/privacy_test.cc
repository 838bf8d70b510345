// Differential privacy over real mTLS on loopback (docs/PRIVACY.md): a run with site-level DP stops before it
// would exceed its target epsilon and reports per-round epsilons equal to the accountant's; a stored update shows
// the noise share the site added; a site whose own policy is stricter declines the round and the aggregator
// counts it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "client/site_daemon.h"
#include "client/site_ledger.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/line_count.h"
#include "common/privacy/rdp_accountant.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/line_dp_plan.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using testing::AdminStub;

constexpr double kDelta = 1e-5;

double AccountantEpsilon(double q, double sigma, int rounds) {
  return privacy::SampledGaussianEpsilon(q, sigma, rounds, kDelta, privacy::DefaultOrders())->epsilon;
}

class PrivacyTest : public testing::AggregatorTest {
 protected:
  void SetUp() override {
    StartAggregator("fedlog_privacy", {"site-a", "site-b"}, [this](v1::ServerConfig* config) {
      if (line_encoder_) {
        ASSERT_TRUE(testing::UseTinyLineEncoder(config, /*out_dim=*/8, /*adapter_dim=*/4));
      }
      config->set_keep_updates(true);  // the test reads a stored update's values
    });
  }

  v1::RunStatus StartDpRun(int rounds, int min_sites, double sigma, double clip, double target,
                           const std::string& mode = "site") {
    v1::StartRunRequest req;
    v1::RunPlan* plan = req.mutable_plan();
    plan->set_rounds(rounds);
    plan->set_min_sites(min_sites);
    plan->set_round_deadline_s(60);
    plan->mutable_training()->set_local_epochs(1);
    if (mode == "line") {  // a little DP-SGD work per round (the tiny line encoder)
      plan->mutable_training()->set_contrastive_steps(3);
      plan->mutable_training()->set_meta_iterations(1);
      plan->mutable_training()->set_batch_size(32);
      // These sites have no labelled lines, so the default (labelled phase only) would train nothing: turn the
      // contrastive phase on, which also carries RunPlan 56 to the sites' TrainingPlan.
      plan->set_line_dp_contrastive(true);
    }
    plan->set_dp_mode(mode);
    plan->set_dp_noise_multiplier(sigma);
    plan->set_dp_clip(clip);
    plan->set_dp_delta(kDelta);
    plan->set_target_epsilon(target);
    return StartRun(req);
  }

  bool line_encoder_ = false;  // the aggregator trains the tiny line encoder instead of the MLP
};

TEST_F(PrivacyTest, RunStopsBeforeExceedingTargetAndReportsTheAccountantsEpsilon) {
  StartSite("site-a");
  StartSite("site-b");
  WaitOnline(2);
  const double sigma = 1.0, clip = 1.0;
  // Every online site takes part (q = 1): two rounds fit under the target, a third would not.
  const double target = (AccountantEpsilon(1.0, sigma, 2) + AccountantEpsilon(1.0, sigma, 3)) / 2;
  v1::RunStatus started = StartDpRun(/*rounds=*/5, /*min_sites=*/2, sigma, clip, target);
  EXPECT_EQ(started.plan().dp_mode(), "site");
  v1::RunStatus done = WaitFinished(started.run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  EXPECT_NE(done.message().find("privacy budget spent"), std::string::npos) << done.message();
  int k = 0;
  for (const auto& r : done.rounds()) {
    ASSERT_EQ(r.state(), "done");
    ++k;
    EXPECT_DOUBLE_EQ(r.dp_sampling_rate(), 1.0);
    EXPECT_NEAR(r.epsilon(), AccountantEpsilon(1.0, sigma, k), 1e-9) << "round " << k;
    // Each site charged its own ledger with the same mechanism (q = 1): it reports the same epsilon.
    EXPECT_NEAR(r.site_epsilon(), r.epsilon(), 1e-9) << "round " << k;
  }
  EXPECT_EQ(k, 2);
  EXPECT_NEAR(done.epsilon_spent(), AccountantEpsilon(1.0, sigma, 2), 1e-9);
  EXPECT_LE(done.epsilon_spent(), target);

  // A stored update carries the site's noise share: its values' spread is sigma*C/sqrt(min_sites) (the clipped
  // delta, of norm <= C over ~1400 values, adds under 0.1%).
  const double share = sigma * clip / std::sqrt(2.0);
  int checked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(JoinPath(JoinPath(dir_, "agg"), "updates"))) {
    if (!e.is_regular_file()) continue;
    auto bundle = fl::DecodeBundle(*ReadFile(e.path().string()));
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    double sum = 0, sq = 0, n = 0;
    for (const auto& t : bundle->tensors) {
      EXPECT_FALSE(fl::IsOptionalTensor(t.name)) << t.name;  // only shared parameters leave a site
      for (float v : t.values) {
        sum += v;
        sq += static_cast<double>(v) * v;
        n += 1;
      }
    }
    ASSERT_GT(n, 500);
    const double sd = std::sqrt(sq / n - (sum / n) * (sum / n));
    EXPECT_NEAR(sd, share, 0.08 * share) << e.path();
    ++checked;
  }
  EXPECT_EQ(checked, 4);  // 2 sites x 2 rounds
  // Each site's ledger survives in its data dir and reopens to the same epsilon.
  for (const char* site : {"site-a", "site-b"}) {
    auto ledger = client::SiteLedger::Open(client::SiteLedger::PathIn(JoinPath(dir_, site)), kDelta);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    EXPECT_EQ(ledger->entries().size(), 2u);
    EXPECT_NEAR(ledger->epsilon(), AccountantEpsilon(1.0, sigma, 2), 1e-9);
  }
}

class LineDpTest : public PrivacyTest {
 protected:
  void SetUp() override {
    line_encoder_ = true;
    PrivacyTest::SetUp();
  }

  // Sites site-a and site-b online, and a 2-round line-DP run of both with a class-sum release of noise 4.
  v1::StartRunRequest TwoSiteReleaseRun() {
    StartSite("site-a");
    StartSite("site-b");
    WaitOnline(2);
    v1::StartRunRequest req = testing::SmallLineDpRun(/*rounds=*/2, /*min_sites=*/2);
    req.mutable_plan()->set_dp_delta(kDelta);
    req.mutable_plan()->set_line_dp_prototype_noise(4.0);
    return req;
  }

  // `req` (TwoSiteReleaseRun's) under secure aggregation, run to its end. Count noise 1 and R = 8 let the tiny
  // sites' weights hold the release's noise share (privacy::MinReleaseWeight).
  v1::RunStatus RunUnderSecureAggregation(v1::StartRunRequest req) {
    v1::RunPlan* plan = req.mutable_plan();
    plan->set_line_dp_count_noise(1.0);
    plan->set_secure_aggregation(true);
    plan->set_secagg_clip_range(8);
    return WaitFinished(StartRun(req).run_id());
  }

  // How many entries of `site`'s ledger charged a step at noise multiplier `sigma` (-1: no ledger).
  int LedgerCharges(const char* site, double sigma) {
    auto ledger = client::SiteLedger::Open(client::SiteLedger::PathIn(JoinPath(dir_, site)), kDelta);
    EXPECT_TRUE(ledger.ok()) << ledger.status();
    if (!ledger.ok()) return -1;
    int n = 0;
    for (const auto& e : ledger->entries()) n += std::abs(e.step.noise_multiplier - sigma) < 1e-9;
    return n;
  }

  // The run's models as the admin downloads them: the first round's carries no class-sum release, the last
  // round's carries the pooled one (2 classes x out_dim 8 + the count); its values go to `release`.
  void ExpectReleaseOnlyInTheLastRound(const v1::RunStatus& done, std::vector<float>* release) {
    client::FederationSession admin(net::MakeChannel(
        absl::StrCat("localhost:", server_->port()),
        *net::MakeChannelCredentials(
            {JoinPath(pki_, "ca.crt"), JoinPath(pki_, "admin.crt"), JoinPath(pki_, "admin.key")})));
    auto last = admin.Download(done.rounds(done.rounds_size() - 1).model_version());
    ASSERT_TRUE(last.ok()) << last.status();
    const fl::NamedTensor* pooled = last->bundle.Find("prototypes.release");
    ASSERT_NE(pooled, nullptr);
    EXPECT_EQ(pooled->shape, (std::vector<int64_t>{2, 9}));
    *release = pooled->values;
    auto first = admin.Download(done.rounds(0).model_version());
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->bundle.Find("prototypes.release"), nullptr);
  }
};

// --dp-mode line end to end: the plan reaches the daemons' local work (DP-SGD), each site charges its ledger with
// the round's mechanisms and the release of its noised line count before uploading and reports that epsilon,
// and no prototype leaves a site. (That the released count is noised: SitePrivacyTest's ReleaseLineCount.)
TEST_F(LineDpTest, SitesRunDpSgdChargeTheirLedgersAndReportTheirEpsilon) {
  StartSite("site-a");
  StartSite("site-b");
  WaitOnline(2);
  v1::RunStatus started = StartDpRun(/*rounds=*/1, /*min_sites=*/2, /*sigma=*/1.0, /*clip=*/1.0, /*target=*/0, "line");
  v1::RunStatus done = WaitFinished(started.run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);
  double largest = 0;
  for (const char* site : {"site-a", "site-b"}) {
    auto ledger = client::SiteLedger::Open(client::SiteLedger::PathIn(JoinPath(dir_, site)), kDelta);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_GE(ledger->entries().size(), 2u) << site;  // the contrastive phase (line_dp_contrastive), the count
    int counts = 0;
    for (const auto& e : ledger->entries()) {
      if (e.step.noise_multiplier == privacy::kDefaultLineCountNoise) {  // the count's release: q = 1, one step
        ++counts;
        EXPECT_DOUBLE_EQ(e.step.sampling_rate, 1.0);
        EXPECT_EQ(e.step.steps, 1);
        continue;
      }
      EXPECT_DOUBLE_EQ(e.step.noise_multiplier, 1.0);
      EXPECT_GT(e.step.sampling_rate, 0);
      EXPECT_LE(e.step.sampling_rate, 1);
      EXPECT_GT(e.step.steps, 0);
    }
    EXPECT_EQ(counts, 1) << site;
    EXPECT_GT(ledger->epsilon(), 0);
    largest = std::max(largest, ledger->epsilon());
  }
  EXPECT_NEAR(done.rounds(0).site_epsilon(), largest, 1e-9);  // the reported epsilon covers the count
  EXPECT_GE(done.rounds(0).samples(), 2);  // the noised counts the aggregator weighed by, each at least 1
  int updates = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(JoinPath(JoinPath(dir_, "agg"), "updates"))) {
    if (!e.is_regular_file()) continue;
    auto bundle = fl::DecodeBundle(*ReadFile(e.path().string()));
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    for (const auto& t : bundle->tensors) EXPECT_EQ(t.name.rfind("prototypes.", 0), std::string::npos) << t.name;
    ++updates;
  }
  EXPECT_EQ(updates, 2);
}

// The class-sum release end to end (docs/PRIVACY.md "Class knowledge under line DP"): with the plan's noise s,
// every daemon releases once, in the run's last round, charges that release to its ledger (q = 1, multiplier
// s / sqrt(2), one step) before the upload, reports an epsilon that includes it, and the final model carries the
// pooled release; earlier rounds release nothing.
TEST_F(LineDpTest, ClassSumReleaseIsChargedOnceInTheLastRound) {
  v1::StartRunRequest req = TwoSiteReleaseRun();
  v1::RunStatus done = WaitFinished(StartRun(req).run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 2);
  const double release_sigma = 4.0 / std::sqrt(2.0);
  double largest = 0;
  for (const char* site : {"site-a", "site-b"}) {
    auto ledger = client::SiteLedger::Open(client::SiteLedger::PathIn(JoinPath(dir_, site)), kDelta);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    int releases = 0;
    for (const auto& e : ledger->entries()) {
      if (std::abs(e.step.noise_multiplier - release_sigma) > 1e-9) continue;
      ++releases;
      EXPECT_EQ(e.round, 2);  // the last round only
      EXPECT_DOUBLE_EQ(e.step.sampling_rate, 1.0);
      EXPECT_EQ(e.step.steps, 1);
    }
    EXPECT_EQ(releases, 1) << site;
    largest = std::max(largest, ledger->epsilon());
  }
  EXPECT_NEAR(done.rounds(1).site_epsilon(), largest, 1e-9);  // the reported epsilon includes the release
  std::vector<float> release;
  ExpectReleaseOnlyInTheLastRound(done, &release);
}

// The class-sum release under secure aggregation (docs/PRIVACY.md, "The class-sum release under secure
// aggregation"): run start accepts the combination, the release round's task carries the noise shares (t = 2 of
// 2 here), each site masks its release with its share and states t, each charges the release at the whole s
// (not at its share), and the final model carries the unmasked pooled release. Count noise 1 and R = 8 let the
// tiny sites' weights hold the share (privacy::MinReleaseWeight).
TEST_F(LineDpTest, ClassSumReleaseUnderSecureAggregationIsMaskedAndChargedAtTheWholeNoise) {
  v1::RunStatus done = RunUnderSecureAggregation(TwoSiteReleaseRun());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 2);
  EXPECT_TRUE(done.plan().secure_aggregation());
  const double release_sigma = 4.0 / std::sqrt(2.0);  // charged at s, what the aggregator's sum carries
  for (const char* site : {"site-a", "site-b"}) EXPECT_EQ(LedgerCharges(site, release_sigma), 1) << site;
  std::vector<float> release;
  ExpectReleaseOnlyInTheLastRound(done, &release);
  EXPECT_FALSE(release.empty());
  for (float v : release) EXPECT_TRUE(std::isfinite(v));
}

// The release's directions form (session 14, docs/PRIVACY.md "The release's form") under secure aggregation: the
// plan's line_dp_prototype_directions reaches the daemons, each charges the release at multiplier s (sensitivity
// 1, not sqrt(2)), states the form in its masked input (the aggregator refuses another), and the unmasked pooled
// release's count columns are exactly 0, so a site lacking a class takes the pooled sum's unit direction.
TEST_F(LineDpTest, DirectionsReleaseCarriesNoCountsAndIsChargedAtSensitivityOne) {
  v1::StartRunRequest req = TwoSiteReleaseRun();
  req.mutable_plan()->set_line_dp_prototype_directions(true);
  v1::RunStatus done = RunUnderSecureAggregation(req);
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 2);
  EXPECT_TRUE(done.plan().line_dp_prototype_directions());
  for (const char* site : {"site-a", "site-b"}) {
    EXPECT_EQ(LedgerCharges(site, 4.0), 1) << site;                     // sensitivity 1: multiplier s
    EXPECT_EQ(LedgerCharges(site, 4.0 / std::sqrt(2.0)), 0) << site;  // not the counts form's s / sqrt(2)
  }
  std::vector<float> release;
  ExpectReleaseOnlyInTheLastRound(done, &release);
  ASSERT_EQ(release.size(), 18u);
  EXPECT_EQ(release[8], 0.0f);  // no count left a site, masked or not
  EXPECT_EQ(release[17], 0.0f);
  const std::vector<float> p = privacy::PrototypesFromRelease(release, 8);
  ASSERT_EQ(p.size(), 16u);
  for (int c = 0; c < 2; ++c) {
    double norm2 = 0;
    for (int j = 0; j < 8; ++j) norm2 += static_cast<double>(p[c * 8 + j]) * p[c * 8 + j];
    EXPECT_NEAR(norm2, 1.0, 1e-5) << c;  // the pooled sum's direction
  }
}

TEST_F(PrivacyTest, StricterSiteDeclinesAndTheAggregatorCountsIt) {
  StartSite("site-a");
  v1::SitePrivacyPolicy strict;
  strict.set_min_noise_multiplier(2.0);
  StartSite("site-b", strict);
  WaitOnline(2);
  v1::RunStatus started = StartDpRun(/*rounds=*/1, /*min_sites=*/1, /*sigma=*/1.0, /*clip=*/1.0, /*target=*/0);
  v1::RunStatus done = WaitFinished(started.run_id());
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);
  const v1::RoundSummary& r = done.rounds(0);
  EXPECT_EQ(r.sites(), 1);
  EXPECT_EQ(r.declined(), 1);
  // The round closed when the decline came, not at its 30 s deadline.
  EXPECT_LT(r.seconds(), 25);
  EXPECT_EQ(done.declined_rounds(), 1);
  ASSERT_EQ(done.declines_size(), 1);
  EXPECT_EQ(done.declines(0).site_id(), "site-b");  // from the certificate
  EXPECT_EQ(done.declines(0).count(), 1);
  EXPECT_NE(done.declines(0).last_reason().find("min_noise_multiplier"), std::string::npos)
      << done.declines(0).last_reason();
  // The declining site spent nothing; the other charged its ledger.
  EXPECT_FALSE(FileExists(client::SiteLedger::PathIn(JoinPath(dir_, "site-b"))));
  EXPECT_TRUE(FileExists(client::SiteLedger::PathIn(JoinPath(dir_, "site-a"))));
}

TEST_F(PrivacyTest, InvalidDpPlansAreRefused) {
  auto start = [&](const std::function<void(v1::RunPlan*)>& edit) {
    v1::StartRunRequest req;
    req.mutable_plan()->set_rounds(1);
    req.mutable_plan()->set_min_sites(1);
    req.mutable_plan()->set_dp_mode("site");
    req.mutable_plan()->set_dp_noise_multiplier(1);
    req.mutable_plan()->set_dp_clip(1);
    edit(req.mutable_plan());
    v1::RunStatus resp;
    grpc::ClientContext ctx;
    return AdminStub(pki_, server_->port())->StartRun(&ctx, req, &resp).error_code();
  };
  for (const auto& edit : std::vector<std::function<void(v1::RunPlan*)>>{
           [](v1::RunPlan* p) { p->set_dp_noise_multiplier(0); },
           [](v1::RunPlan* p) { p->set_dp_clip(-1); },
           [](v1::RunPlan* p) { p->set_dp_clip(NAN); },
           [](v1::RunPlan* p) { p->set_dp_delta(1); },
           [](v1::RunPlan* p) { p->set_target_epsilon(-1); },
           [](v1::RunPlan* p) { p->set_target_epsilon(INFINITY); },
           [](v1::RunPlan* p) { p->set_dp_mode("row"); },
           [](v1::RunPlan* p) { p->set_line_dp_scope("all"); },  // a line-DP setting in site mode
           [](v1::RunPlan* p) {
             p->set_dp_mode("line");
             p->set_line_dp_scope("encoder");
           },
           [](v1::RunPlan* p) { p->set_line_dp_prototype_noise(2); },  // the release in site mode
           [](v1::RunPlan* p) {
             p->set_dp_mode("line");
             p->set_line_dp_prototype_noise(0.001);  // nearly exact sums
           },
           [](v1::RunPlan* p) {
             p->set_dp_mode("line");
             p->set_line_dp_prototype_noise(2);
             p->set_secure_aggregation(true);
             p->set_min_sites(2);
             p->set_secagg_clip_range(1);  // the range cannot hold the release's noise share
           },
           [](v1::RunPlan* p) {
             p->set_dp_mode("line");
             p->set_line_dp_prototype_noise(2);
             p->set_secure_aggregation(true);
             p->set_min_sites(2);
             p->set_max_site_samples(300);  // below the least weight (338 at R 4, count noise 100): none could mask
           },
           [](v1::RunPlan* p) {
             p->set_dp_mode("line");
             p->set_line_dp_prototype_directions(true);  // a form without a release
           },
           [](v1::RunPlan* p) { p->set_strategy("median"); },
           [](v1::RunPlan* p) { p->set_clip_norm(5); }}) {
    EXPECT_EQ(start(edit), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

}  // namespace
}  // namespace fedlog
