// What a site does with its line counts (docs/PRIVACY.md, "Line counts in Hello" and "The line count under line
// DP"): whether its policy declares them in Hello, the plan's count-noise field as the site validates it, and the
// policy's floor on that noise (client/privacy_policy.h).
#include <cmath>
#include <stdlib.h>
#include <string>
#include <vector>

#include "client/privacy_policy.h"
#include "client/site_ledger.h"
#include "common/base/file_util.h"
#include "common/privacy/line_count.h"
#include "gtest/gtest.h"

namespace fedlog::client {
namespace {

v1::RoundTask LineTask(double count_noise) {
  v1::RoundTask t;
  t.set_run_id(3);
  t.set_round(1);
  t.set_dp_mode("line");
  t.set_dp_noise_multiplier(2.0);
  t.set_dp_clip(1.0);
  t.set_dp_min_sites(2);
  t.set_dp_delta(1e-5);
  t.set_dp_sampling_rate(1.0);
  t.mutable_plan()->set_line_dp_count_noise(count_noise);
  return t;
}

v1::SitePrivacyPolicy Finalized(v1::SitePrivacyPolicy p) {
  EXPECT_TRUE(FinalizeSitePrivacyPolicy(&p).ok());
  return p;
}

SiteLedger EmptyLedger() {
  std::string tmpl = ::testing::TempDir() + "/line_count_policy_XXXXXX";
  auto ledger = SiteLedger::Open(JoinPath(mkdtemp(tmpl.data()), "privacy_ledger.txt"), 1e-5);
  EXPECT_TRUE(ledger.ok()) << ledger.status();
  return std::move(*ledger);
}

TEST(LineCountPolicy, HelloDeclaresLinesUnlessThePolicyWantsDp) {
  EXPECT_TRUE(DeclaresLines(Finalized({})));  // no policy: declared, as before
  v1::SitePrivacyPolicy p;
  p.set_require_dp(true);
  EXPECT_FALSE(DeclaresLines(Finalized(p)));
  p = {};
  p.set_max_epsilon(8);
  EXPECT_FALSE(DeclaresLines(Finalized(p)));
  p = {};
  p.set_min_noise_multiplier(1);
  EXPECT_FALSE(DeclaresLines(Finalized(p)));
  p = {};
  p.set_require_secure_aggregation(true);  // secure aggregation alone does not hide the counts' owner
  EXPECT_TRUE(DeclaresLines(Finalized(p)));
  // An explicit setting wins either way.
  p = {};
  p.set_require_dp(true);
  p.set_declare_lines(true);
  EXPECT_TRUE(DeclaresLines(Finalized(p)));
  p = {};
  p.set_declare_lines(false);
  EXPECT_FALSE(DeclaresLines(Finalized(p)));
}

TEST(LineCountPolicy, FloorOutOfRangeIsRefused) {
  for (double bad : std::vector<double>{0.5, -1.0, 2e6, std::nan(""), INFINITY}) {
    v1::SitePrivacyPolicy p;
    p.set_min_count_noise(bad);
    absl::Status st = FinalizeSitePrivacyPolicy(&p);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("privacy.min_count_noise"), std::string::npos) << st;
  }
  v1::SitePrivacyPolicy ok;
  ok.set_min_count_noise(250);
  EXPECT_TRUE(FinalizeSitePrivacyPolicy(&ok).ok());
}

TEST(LineCountPolicy, TaskCountNoiseIsValidated) {
  EXPECT_TRUE(ValidateTaskPrivacy(LineTask(0)).ok());  // an aggregator without the field: the default
  EXPECT_TRUE(ValidateTaskPrivacy(LineTask(1)).ok());
  EXPECT_TRUE(ValidateTaskPrivacy(LineTask(1e6)).ok());
  for (double bad : std::vector<double>{0.5, -100.0, 1e6 + 1, std::nan(""), INFINITY}) {
    EXPECT_EQ(ValidateTaskPrivacy(LineTask(bad)).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_DOUBLE_EQ(privacy::EffectiveLineCountNoise(0), privacy::kDefaultLineCountNoise);
  EXPECT_DOUBLE_EQ(privacy::EffectiveLineCountNoise(30), 30);
}

// The class-sum release's directions form (TrainingPlan 32) only comes with a release noise.
TEST(LineCountPolicy, DirectionsFormNeedsARelease) {
  v1::RoundTask t = LineTask(0);
  t.mutable_plan()->set_line_dp_prototype_directions(true);
  EXPECT_EQ(ValidateTaskPrivacy(t).code(), absl::StatusCode::kInvalidArgument);
  t.mutable_plan()->set_line_dp_prototype_noise(2.0);
  t.mutable_plan()->set_line_dp_prototype_round(1);
  EXPECT_TRUE(ValidateTaskPrivacy(t).ok());
}

TEST(LineCountPolicy, SiteDeclinesALineRoundWithLessCountNoiseThanItsFloor) {
  const SiteLedger ledger = EmptyLedger();
  v1::SitePrivacyPolicy floor;
  floor.set_min_count_noise(200);
  floor = Finalized(floor);
  absl::Status low = CheckRoundAgainstPolicy(floor, LineTask(150), ledger);
  EXPECT_EQ(low.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(low.message().find("min_count_noise"), std::string::npos) << low;
  // 0 means the default 100, also below the floor.
  EXPECT_EQ(CheckRoundAgainstPolicy(floor, LineTask(0), ledger).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckRoundAgainstPolicy(floor, LineTask(200), ledger).ok());
  EXPECT_TRUE(CheckRoundAgainstPolicy(floor, LineTask(1000), ledger).ok());
  // The floor concerns line-DP rounds only: a site-level DP round or a round without DP is not declined for it.
  v1::RoundTask site = LineTask(0);
  site.set_dp_mode("site");
  site.mutable_plan()->clear_line_dp_count_noise();
  EXPECT_TRUE(CheckRoundAgainstPolicy(floor, site, ledger).ok());
  EXPECT_TRUE(CheckRoundAgainstPolicy(floor, v1::RoundTask(), ledger).ok());
  // Without a floor the default is taken.
  EXPECT_TRUE(CheckRoundAgainstPolicy(Finalized({}), LineTask(0), ledger).ok());
}

}  // namespace
}  // namespace fedlog::client
