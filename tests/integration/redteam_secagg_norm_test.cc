// Secure aggregation's bound on one site's update norm (common/secagg/norm_bound.h; docs/SECURITY.md "One bad
// site under secure aggregation"), over real mTLS with hand-driven sites that state their norms as the daemon
// does: a site that states a small norm and masks its whole update at the clip range (a model-replacement
// boost within the per-coordinate range, which took over the mean before the bound) fails the attempt, and the
// round completes from the clean cohort; with the bound off the same boost takes the mean; an honest site above
// the bound is scaled to it and the round records the bound and the count; a norm above what the round's clip
// range allows is refused. Shared pieces: redteam_secagg_env.h.
#include "tests/integration/redteam_secagg_env.h"

namespace fedlog::redteam_secagg {
namespace {

class RedteamSecAggNormTest : public testing::AggregatorTest {
 protected:
  static constexpr int kSites = 6;
  void SetUp() override {
    StartAggregator("fedlog_redteam_norm", {"site-a", "site-b", "site-c", "site-d", "site-e", "site-f"},
                    [](v1::ServerConfig* c) { ASSERT_TRUE(testing::UseTinyLineEncoder(c, kOut, kAdapter)); });
    ASSERT_NE(server_, nullptr);
    port_ = server_->port();
    admin_ = Admin();
  }
  void TearDown() override {
    sites_.clear();  // their channels close before the aggregator stops
    AggregatorTest::TearDown();
  }
  // The first `n` sites, connected.
  std::vector<Site*> Connect(int n) {
    std::vector<Site*> out;
    for (int i = 0; i < n; ++i) {
      sites_.push_back(std::make_unique<Site>(pki_, std::string("site-") + static_cast<char>('a' + i), port_));
      out.push_back(sites_.back().get());
    }
    return out;
  }
  v1::RunStatus WaitRun(int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready) {
    return testing::WaitRun(admin_.get(), run_id, ready);
  }

  // One attempt: site i masks its delta `values[i]` (every shared value) at weight 100, stating its norm; site
  // `bad` (-1: none) states a norm of 1e-3 and masks its whole delta past the round's bound.
  std::vector<absl::Status> Attempt(const std::vector<Site*>& who, const std::vector<v1::RoundTask>& tasks,
                                    const std::vector<float>& values, int bad) {
    if (global_.tensors.empty()) {
      auto model = who[0]->session.Download(tasks[0].model_version());
      EXPECT_TRUE(model.ok()) << model.status();
      if (model.ok()) global_ = model->bundle;
    }
    std::vector<std::unique_ptr<client::SecAggTransport>> honest;
    BadRelay boost(&who[static_cast<size_t>(std::max(bad, 0))]->session, Tamper::kBoostPastTheBound);
    boost.stated_norm = 1e-3;
    std::vector<client::SecAggTransport*> via;
    std::vector<fl::TensorBundle> deltas;
    for (size_t i = 0; i < who.size(); ++i) {
      deltas.push_back(Delta(global_, values[i]));
      if (static_cast<int>(i) == bad) {
        via.push_back(&boost);
      } else {
        honest.push_back(client::SessionTransport(&who[i]->session));
        via.push_back(honest.back().get());
      }
    }
    return RunAttempt(who, via, tasks, global_, deltas, std::vector<double>(who.size(), 100), /*state_norms=*/true);
  }
  // How far `version` moved the first shared value from the run's initial model.
  double ShiftOf(int64_t version) {
    auto next = sites_[0]->session.Download(version);
    EXPECT_TRUE(next.ok()) << next.status();
    return next.ok() ? FirstShift(global_, next->bundle) : std::nan("");
  }

  int port_ = 0;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::vector<std::unique_ptr<Site>> sites_;
  fl::TensorBundle global_;
};

// Site i's delta: 0.01 * (i + 1) for the honest sites a..e; site-f masks the clip range in every coordinate.
std::vector<float> Values() { return {0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 4.0f}; }

// site-f states a tiny norm and masks its whole update at the clip range, ignoring the bound. The one-session
// attempt's sum exceeds the bound times the weight sum and fails (DataLoss: the run enters cohort mode); the
// next attempt's cohort without site-f completes the round, so the model moves by that cohort's mean. Without
// the bound site-f's boost would move the mean by (4 + 0.15) / 6 = 0.69 (NoBoundLetsTheSameBoostTakeTheMean).
TEST_F(RedteamSecAggNormTest, AMaskedUpdatePastTheBoundFailsTheAttemptAndTheCleanCohortCompletesTheRound) {
  std::vector<Site*> all = Connect(kSites);
  const int64_t run_id = StartSecureRun(admin_.get(), 1, 3, 60);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(all);
  ASSERT_TRUE(tasks[0].secagg().norm_bounded());
  ::testing::internal::CaptureStderr();
  Attempt(all, tasks, Values(), kSites - 1);
  v1::RunStatus s = WaitRun(run_id, [](const v1::RunStatus& r) { return HasFailedAttempt(r) || Finished(r); });
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(HasFailedAttempt(s)) << "the boosted sum was averaged into the model: " << s.state();
  EXPECT_TRUE(absl::StrContains(log, "beyond the bound it was given")) << log;

  tasks = testing::WaitRoundTasks(all);
  std::map<std::string, std::vector<int>> cohorts;
  for (int i = 0; i < kSites; ++i) cohorts[tasks[static_cast<size_t>(i)].secagg().session_id()].push_back(i);
  ASSERT_EQ(cohorts.size(), 2u);
  std::vector<int> clean;
  for (const auto& [session, members] : cohorts) {
    if (std::find(members.begin(), members.end(), kSites - 1) == members.end()) clean = members;
  }
  ASSERT_EQ(clean.size(), 3u);
  Attempt(all, tasks, Values(), kSites - 1);
  s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 2);
  EXPECT_EQ(s.rounds(1).secagg_cohorts_dropped(), 1);
  double expected = 0;
  for (int i : clean) expected += Values()[static_cast<size_t>(i)] / 3.0;
  EXPECT_NEAR(ShiftOf(s.rounds(1).model_version()), expected, 1e-3);
}

// The same boost in a run whose plan turns the bound off (adaptive clipping off): the attempt completes and
// site-f moves the mean by about 0.69 per coordinate, the takeover the bound stops.
TEST_F(RedteamSecAggNormTest, NoBoundLetsTheSameBoostTakeTheMean) {
  std::vector<Site*> all = Connect(kSites);
  const int64_t run_id = StartSecureRun(admin_.get(), 1, 3, 60, 0, /*no_norm_bound=*/true);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(all);
  ASSERT_FALSE(tasks[0].secagg().norm_bounded());
  Attempt(all, tasks, Values(), kSites - 1);
  v1::RunStatus s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 1);
  EXPECT_NEAR(ShiftOf(s.rounds(0).model_version()), (4.0 + 0.15) / 6, 1e-3);
}

// Three honest sites; site-c's update is 100 times the others'. Its stated norm is above M = 4 times the lower
// median of the three, so it scales its values to the bound before masking and the round completes at once, the
// mean taking site-c at the bound: (0.01 + 0.01 + 0.01 * 4 * s) / 3, s in [1, 2^(1/4)] the rounding up of the
// stated norms. The round's row carries the bound and one site above it.
TEST_F(RedteamSecAggNormTest, AnHonestSiteAboveTheBoundIsScaledToItAndTheRoundCompletes) {
  std::vector<Site*> three = Connect(3);
  const int64_t run_id = StartSecureRun(admin_.get(), 1, 3, 60);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(three);
  std::vector<absl::Status> st = Attempt(three, tasks, {0.01f, 0.01f, 1.0f}, -1);
  ASSERT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0] << st[1] << st[2];
  v1::RunStatus s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  ASSERT_EQ(s.rounds_size(), 1) << "an honest site above the bound failed the attempt";
  EXPECT_EQ(s.rounds(0).clipped_updates(), 1);
  EXPECT_GT(s.rounds(0).clip_bound(), 0);
  const double shift = ShiftOf(s.rounds(0).model_version());
  EXPECT_GE(shift, (0.02 + 0.04) / 3 - 1e-4);
  EXPECT_LE(shift, (0.02 + 0.04 * std::exp2(0.25)) / 3 + 1e-4);
}

// A stated norm above R x sqrt(d) (no update within the clip range has it) is refused with the advertisement,
// counted, and the two other sites complete the round once advertising closes.
TEST_F(RedteamSecAggNormTest, AStatedNormNoUpdateCanHaveIsRefused) {
  std::vector<Site*> three = Connect(3);
  const int64_t run_id = StartSecureRun(admin_.get(), 1, 3, 4);
  std::vector<v1::RoundTask> tasks = testing::WaitRoundTasks(three);
  auto global = three[0]->session.Download(tasks[0].model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  global_ = global->bundle;
  BadRelay liar(&three[2]->session, Tamper::kBoostPastTheBound);
  liar.stated_norm = 1e300;
  auto ra = client::SessionTransport(&three[0]->session), rb = client::SessionTransport(&three[1]->session);
  std::vector<absl::Status> st =
      RunAttempt(three, {ra.get(), rb.get(), &liar}, tasks, global_,
                 {Delta(global_, 0.01f), Delta(global_, 0.03f), Delta(global_, 0.02f)}, {100, 100, 100}, true);
  EXPECT_EQ(st[2].code(), absl::StatusCode::kInvalidArgument) << st[2];
  EXPECT_TRUE(absl::StrContains(st[2].message(), "stated update norm")) << st[2];
  ASSERT_TRUE(st[0].ok() && st[1].ok()) << st[0] << st[1];
  v1::RunStatus s = WaitRun(run_id, Finished);
  ASSERT_EQ(s.state(), "done") << s.message();
  EXPECT_EQ(s.rounds(0).sites(), 2);
  EXPECT_EQ(s.refused_updates(), 1);
  EXPECT_NEAR(ShiftOf(s.rounds(0).model_version()), 0.02, 1e-3);
}

}  // namespace
}  // namespace fedlog::redteam_secagg
