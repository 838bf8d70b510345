// The aggregator's check of the class-sum release's form (server/coordinator_privacy.h CheckClassSumForm,
// docs/PRIVACY.md "The release's form"): in the release round of a directions plan every upload must state the
// directions form, and no upload may state it anywhere else; a plan may not ask for the form without a release.
#include "gtest/gtest.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {
namespace {

v1::RunPlan ReleasePlan(bool directions) {
  v1::RunPlan p;
  p.set_rounds(3);
  p.set_dp_mode("line");
  p.set_dp_noise_multiplier(2);
  p.set_dp_clip(1);
  p.set_line_dp_prototype_noise(2);
  p.set_line_dp_prototype_directions(directions);
  return p;
}

v1::UpdateHeader Header(int32_t round, bool directions) {
  v1::UpdateHeader h;
  h.set_round(round);
  h.set_class_sum_directions(directions);
  return h;
}

TEST(ClassSumForm, ReleaseRoundTakesOnlyThePlansForm) {
  const v1::RunPlan directions = ReleasePlan(true);
  EXPECT_TRUE(CheckClassSumForm(directions, Header(3, true)).ok());
  EXPECT_EQ(CheckClassSumForm(directions, Header(3, false)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckClassSumForm(directions, Header(2, false)).ok());  // no release before the last round
  EXPECT_EQ(CheckClassSumForm(directions, Header(2, true)).code(), absl::StatusCode::kFailedPrecondition);
  const v1::RunPlan counts = ReleasePlan(false);
  EXPECT_TRUE(CheckClassSumForm(counts, Header(3, false)).ok());
  EXPECT_EQ(CheckClassSumForm(counts, Header(3, true)).code(), absl::StatusCode::kFailedPrecondition);
  v1::RunPlan none;  // no DP at all
  none.set_rounds(3);
  EXPECT_TRUE(CheckClassSumForm(none, Header(3, false)).ok());
  EXPECT_EQ(CheckClassSumForm(none, Header(3, true)).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ClassSumForm, PlanWithTheFormButNoReleaseIsRefused) {
  v1::RunPlan p = ReleasePlan(true);
  EXPECT_TRUE(ValidatePrivacyPlan(&p).ok());
  p.set_line_dp_prototype_noise(0);
  EXPECT_EQ(ValidatePrivacyPlan(&p).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedlog::server
