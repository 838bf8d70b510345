// A boosted update with the DEFAULT run plan (adaptive clipping, common/fl/adaptive_clip.h): one site of three or
// four, or one of two, sends an update scaled by 10, 1e3 or 1e6, one huge coordinate, or a sign flip times 100.
// Over real mTLS on loopback, the round completes, the global model moves at most what the bound allows
// (computed from the honest updates), and the run status counts the clipped update; also across an aggregator
// restart mid-round, with updates stored without their part norms.
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/fl/adaptive_clip.h"
#include "common/store/database.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "server/state_schema.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using testing::Filled;

double Norm(const fl::TensorBundle& b) { return std::sqrt(b.SquaredNorm()); }

// L2 distance between two models of the same layout.
double Distance(const fl::TensorBundle& a, const fl::TensorBundle& b) {
  double sq = 0;
  for (const auto& t : a.tensors) {
    const fl::NamedTensor* u = b.Find(t.name);
    EXPECT_NE(u, nullptr) << t.name;
    if (u == nullptr) continue;
    for (size_t i = 0; i < t.values.size(); ++i) {
      const double d = double{t.values[i]} - u->values[i];
      sq += d * d;
    }
  }
  return std::sqrt(sq);
}

class BoostedUpdateTest : public testing::HandAggregatorTest {
 protected:
  void SetUp() override { SetUpAggregator("fedlog_boosted", {"site-a", "site-b", "site-c", "site-x"}); }
  // A default plan (only rounds and min_sites set); the aggregator fills in adaptive clipping.
  static v1::RunPlan DefaultPlan(int rounds, int min_sites) {
    v1::RunPlan plan;
    plan.set_rounds(rounds);
    plan.set_min_sites(min_sites);
    plan.set_round_deadline_s(60);
    return plan;
  }
};

// Three honest sites (uniform deltas 0.001, 0.0012, 0.0009) and site-x sending `attack(base)`, one run each.
TEST_F(BoostedUpdateTest, OneOfFourBoostedByAnyFactorMovesTheModelAtMostTheBound) {
  testing::HandSite a(pki_, "site-a", server_->port()), b(pki_, "site-b", server_->port()),
      c(pki_, "site-c", server_->port()), x(pki_, "site-x", server_->port());
  const std::vector<std::pair<std::string, std::function<fl::TensorBundle(const fl::TensorBundle&)>>> attacks = {
      {"x10", [](const fl::TensorBundle& m) { return Filled(m, 0.01f); }},
      {"x1e3", [](const fl::TensorBundle& m) { return Filled(m, 1.0f); }},
      {"x1e6", [](const fl::TensorBundle& m) { return Filled(m, 1000.0f); }},
      {"one coordinate", [](const fl::TensorBundle& m) {
         fl::TensorBundle d = Filled(m, 0.001f);
         d.tensors[0].values[0] = 1e6f;
         return d;
       }},
      {"sign flip x100", [](const fl::TensorBundle& m) { return Filled(m, -0.1f); }},
  };
  for (const auto& [name, attack] : attacks) {
    SCOPED_TRACE(name);
    v1::RunStatus run = Start(DefaultPlan(1, 4));
    const double m = run.plan().adaptive_clip_multiple();
    ASSERT_EQ(m, fl::kDefaultAdaptiveClipMultiple);
    ASSERT_GE(m, 1);
    ASSERT_FALSE(run.plan().adaptive_clip_off());
    v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask(), tc = c.WaitTask(), tx = x.WaitTask();
    auto base = a.session.Download(ta.model_version());
    ASSERT_TRUE(base.ok()) << base.status();
    const fl::TensorBundle ha = Filled(base->bundle, 0.001f), hb = Filled(base->bundle, 0.0012f),
                           hc = Filled(base->bundle, 0.0009f);
    ASSERT_TRUE(a.Upload(ta, ha).ok());
    ASSERT_TRUE(b.Upload(tb, hb).ok());
    ASSERT_TRUE(c.Upload(tc, hc).ok());
    ASSERT_TRUE(x.Upload(tx, attack(base->bundle)).ok());
    v1::RunStatus done = WaitRun(run.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; });
    ASSERT_EQ(done.state(), "done");
    ASSERT_EQ(done.rounds_size(), 1);
    EXPECT_EQ(done.rounds(0).clipped_updates(), 1);
    // r = the lower median of the four norms = site-a's; each update enters with norm at most M r, and the
    // mean of four equal weights moves the model by at most the sum of their norms / 4.
    const double r = Norm(ha);
    EXPECT_NEAR(done.rounds(0).clip_bound(), m * r, 1e-6 * m * r);
    auto next = a.session.Download(0);
    ASSERT_TRUE(next.ok());
    const double bound = (Norm(ha) + Norm(hb) + Norm(hc) + m * r) / 4;
    EXPECT_LE(Distance(next->bundle, base->bundle), bound * 1.001);
  }
}

// Two sites, one boosted by 1e6: the first round's reference is the smaller norm; the second round's pool holds
// the carried reference, so the boosted site cannot set it either.
TEST_F(BoostedUpdateTest, OneOfTwoIsBoundedInTheFirstRoundAndByTheCarriedReferenceAfter) {
  testing::HandSite a(pki_, "site-a", server_->port()), x(pki_, "site-x", server_->port());
  v1::RunStatus run = Start(DefaultPlan(2, 2));
  const double m = run.plan().adaptive_clip_multiple();
  ASSERT_GE(m, 1);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    v1::RoundTask ta = a.WaitTask(), tx = x.WaitTask();
    auto base = a.session.Download(ta.model_version());
    ASSERT_TRUE(base.ok()) << base.status();
    const fl::TensorBundle honest = Filled(base->bundle, round == 0 ? 0.001f : 0.0008f);
    ASSERT_TRUE(a.Upload(ta, honest).ok());
    ASSERT_TRUE(x.Upload(tx, Filled(base->bundle, 1000.0f)).ok());
    v1::RunStatus st = WaitRun(run.run_id(), [&](const v1::RunStatus& s) {
      return s.rounds_size() > round && s.rounds(round).state() == "done";
    });
    ASSERT_GT(st.rounds_size(), round);
    ASSERT_EQ(st.rounds(round).state(), "done");
    EXPECT_EQ(st.rounds(round).clipped_updates(), 1);
    // Round 1: r = the honest norm. Round 2: the pool {honest, boosted, carried r of round 1} has its lower
    // median at most the larger honest value.
    const double r = round == 0 ? Norm(honest) : std::max(Norm(honest), Norm(honest) * 0.001 / 0.0008);
    EXPECT_LE(st.rounds(round).clip_bound(), m * r * 1.0001);
    auto next = a.session.Download(st.rounds(round).model_version());
    ASSERT_TRUE(next.ok());
    EXPECT_LE(Distance(next->bundle, base->bundle), (Norm(honest) + m * r) / 2 * 1.001);
  }
  EXPECT_EQ(WaitRun(run.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; }).state(), "done");
}

// The clipping norms come from the part norms the aggregator stored with each update at upload
// (common/fl/part_norms.h). An aggregator restarted mid-round aggregates updates it stored before the restart;
// updates stored without part norms (an older binary: NULL) or with unreadable ones are read once more for
// them. One round of four: three uploads, a restart with site-a's and site-x's (boosted) numbers removed and
// site-b's damaged, site-c after it; the boosted update is clipped to M r exactly as without the restart.
TEST_F(BoostedUpdateTest, ARestartMidRoundAndUpdatesWithoutStoredNormsStillClip) {
  const int port = server_->port();
  testing::HandSite a(pki_, "site-a", port), b(pki_, "site-b", port), c(pki_, "site-c", port),
      x(pki_, "site-x", port);
  v1::RunStatus run = Start(DefaultPlan(1, 4));
  const double m = run.plan().adaptive_clip_multiple();
  ASSERT_GE(m, 1);
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask(), tc = c.WaitTask(), tx = x.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok()) << base.status();
  const fl::TensorBundle ha = Filled(base->bundle, 0.001f), hb = Filled(base->bundle, 0.0012f),
                         hc = Filled(base->bundle, 0.0009f);
  ASSERT_TRUE(a.Upload(ta, ha).ok());
  ASSERT_TRUE(b.Upload(tb, hb).ok());
  ASSERT_TRUE(x.Upload(tx, Filled(base->bundle, 1000.0f)).ok());
  server_->Shutdown();
  server_.reset();
  {
    auto db = store::Database::Open(JoinPath(JoinPath(dir_, "agg"), "aggregator.db"), server::AggregatorMigrations());
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("UPDATE updates SET part_norms = NULL WHERE site_id IN ('site-a', 'site-x')").ok());
    ASSERT_TRUE((*db)->Exec("UPDATE updates SET part_norms = 'shared=oops' WHERE site_id = 'site-b'").ok());
  }
  auto restarted = server::AggregatorServer::Start(testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"), port));
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  server_ = std::move(*restarted);
  ASSERT_TRUE(c.Upload(tc, hc).ok());
  v1::RunStatus done = WaitRun(run.run_id(), [](const v1::RunStatus& s) { return s.state() != "running"; });
  ASSERT_EQ(done.state(), "done");
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).clipped_updates(), 1);
  const double r = Norm(ha);  // the lower median of the four norms
  EXPECT_NEAR(done.rounds(0).clip_bound(), m * r, 1e-6 * m * r);
  auto next = a.session.Download(0);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_LE(Distance(next->bundle, base->bundle), (Norm(ha) + Norm(hb) + Norm(hc) + m * r) / 4 * 1.001);
}

// The setting: off is honoured (the boosted update drags the mean), and a multiple is refused under site-level
// DP, where the default is off (under secure aggregation the sites clip to the bound their stated norms give:
// redteam_secagg_norm_test.cc).
TEST_F(BoostedUpdateTest, OffIsHonouredAndAMultipleIsRefusedWhereTheAggregatorCannotClip) {
  testing::HandSite a(pki_, "site-a", server_->port()), x(pki_, "site-x", server_->port());
  v1::RunPlan off = DefaultPlan(1, 2);
  off.set_adaptive_clip_off(true);
  v1::RunStatus run = Start(off);
  EXPECT_EQ(run.plan().adaptive_clip_multiple(), 0);
  v1::RoundTask ta = a.WaitTask(), tx = x.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok());
  ASSERT_TRUE(a.Upload(ta, Filled(base->bundle, 0.001f)).ok());
  ASSERT_TRUE(x.Upload(tx, Filled(base->bundle, 0.1f)).ok());
  v1::RunStatus done = WaitRun(run.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; });
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(done.rounds(0).clipped_updates(), 0);
  auto next = a.session.Download(0);
  ASSERT_TRUE(next.ok());
  EXPECT_NEAR(next->bundle.tensors[0].values[0] - base->bundle.tensors[0].values[0], 0.0505f, 1e-5);

  std::string why;
  auto refused = [&](v1::RunPlan plan) {
    v1::StartRunRequest req;
    *req.mutable_plan() = plan;
    v1::RunStatus resp;
    grpc::ClientContext ctx;
    grpc::Status st = testing::AdminStub(pki_, server_->port())->StartRun(&ctx, req, &resp);
    why = st.error_message();
    return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
  };
  v1::RunPlan site_dp = DefaultPlan(1, 2);
  site_dp.set_secure_aggregation(true);
  site_dp.set_dp_mode("site");
  site_dp.set_dp_noise_multiplier(1);
  site_dp.set_dp_clip(0.1);
  site_dp.set_adaptive_clip_multiple(3);
  EXPECT_TRUE(refused(site_dp));
  EXPECT_TRUE(absl::StrContains(why, "adaptive clipping is off under site-level DP")) << why;
  v1::RunPlan below_one = DefaultPlan(1, 2);
  below_one.set_adaptive_clip_multiple(0.5);
  EXPECT_TRUE(refused(below_one));
  v1::RunPlan both = DefaultPlan(1, 2);
  both.set_adaptive_clip_multiple(3);
  both.set_adaptive_clip_off(true);
  EXPECT_TRUE(refused(both));
}

}  // namespace
}  // namespace fedlog
