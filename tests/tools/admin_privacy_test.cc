// `fedlog run start`'s privacy flags as the CLI turns them into a run plan (tools/admin/admin_privacy.h): line
// mode always carries a line-count noise (default 100, --dp-count-noise S), out-of-range values and the flag
// outside line mode are refused, and the run's privacy line shows the noise; the same for the class-sum release
// (--dp-prototype-noise S, or --dp-prototype-share F of --target-epsilon), whose form is directions unless
// --dp-prototype-counts asks for sums and counts.
#include <string>
#include <vector>

#include "common/privacy/class_sums.h"
#include "gtest/gtest.h"
#include "tools/admin/admin_privacy.h"

namespace fedlog::cli {
namespace {

absl::StatusOr<v1::RunPlan> PlanFrom(const std::vector<std::string>& argv) {
  ArgSpec spec;
  for (const std::string& o : PrivacyOptionNames()) spec.options.insert(o);
  for (const std::string& f : PrivacyFlagNames()) spec.flags.insert(f);
  absl::StatusOr<Args> args = Args::Parse(argv, spec);
  if (!args.ok()) return args.status();
  v1::RunPlan plan;
  absl::Status st = SetPrivacyFlags(*args, &plan);
  if (!st.ok()) return st;
  return plan;
}

const std::vector<std::string> kLine = {"--dp-mode", "line", "--dp-noise-multiplier", "2", "--dp-clip", "1"};

TEST(AdminPrivacyFlags, LineModeCarriesTheCountNoise) {
  absl::StatusOr<v1::RunPlan> plan = PlanFrom(kLine);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->line_dp_count_noise(), 100);  // the default, stated in the plan
  std::vector<std::string> argv = kLine;
  argv.insert(argv.end(), {"--dp-count-noise", "30"});
  plan = PlanFrom(argv);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->line_dp_count_noise(), 30);
  v1::RunStatus status;
  *status.mutable_plan() = *plan;
  EXPECT_NE(PrivacySummary(status).find("line-count noise 30"), std::string::npos) << PrivacySummary(status);
}

TEST(AdminPrivacyFlags, CountNoiseOutOfRangeOrOutsideLineModeIsRefused) {
  for (const char* bad : {"0.5", "0", "-3", "2e6", "nan"}) {
    std::vector<std::string> argv = kLine;
    argv.insert(argv.end(), {"--dp-count-noise", bad});
    EXPECT_EQ(PlanFrom(argv).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  absl::StatusOr<v1::RunPlan> site =
      PlanFrom({"--dp-noise-multiplier", "1", "--dp-clip", "1", "--dp-count-noise", "30"});  // site mode
  EXPECT_EQ(site.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<v1::RunPlan> plain = PlanFrom({});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->line_dp_count_noise(), 0);  // no DP: nothing set
}

TEST(AdminPrivacyFlags, ClassSumReleaseFromItsNoiseOrItsShareOfTheTarget) {
  std::vector<std::string> argv = kLine;
  argv.insert(argv.end(), {"--dp-prototype-noise", "3.5"});
  absl::StatusOr<v1::RunPlan> plan = PlanFrom(argv);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->line_dp_prototype_noise(), 3.5);
  plan->set_rounds(10);
  v1::RunStatus status;
  *status.mutable_plan() = *plan;
  EXPECT_NE(PrivacySummary(status).find("class sums released in round 10 with noise 3.5"), std::string::npos)
      << PrivacySummary(status);
  // A share of the target: the smallest noise whose one release alone spends it (the accountant's figure).
  argv = kLine;
  argv.insert(argv.end(), {"--target-epsilon", "8", "--dp-prototype-share", "0.5"});
  plan = PlanFrom(argv);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->line_dp_prototype_share(), 0.5);
  EXPECT_TRUE(plan->line_dp_prototype_directions());  // the default form: sums only, sensitivity 1
  EXPECT_DOUBLE_EQ(plan->line_dp_prototype_noise(),
                   *privacy::ClassSumNoiseForShare(8, 0.5, 1, 1e-5, privacy::ClassSumForm::kDirections));
  argv.push_back("--dp-prototype-counts");  // sessions 12-13's form: its noise for the same share
  plan = PlanFrom(argv);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->line_dp_prototype_directions());
  EXPECT_DOUBLE_EQ(plan->line_dp_prototype_noise(), *privacy::ClassSumNoiseForShare(8, 0.5, 1, 1e-5));
  *status.mutable_plan() = *plan;
  EXPECT_NE(PrivacySummary(status).find("class sums and counts released"), std::string::npos)
      << PrivacySummary(status);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--dp-prototype-noise", "0.001"},
        std::vector<std::string>{"--dp-prototype-share", "0.5"},  // no target
        std::vector<std::string>{"--target-epsilon", "8", "--dp-prototype-share", "1"},
        std::vector<std::string>{"--dp-prototype-noise", "1", "--dp-prototype-share", "0.5"},
        std::vector<std::string>{"--dp-prototype-counts"}}) {  // a form without a release
    argv = kLine;
    argv.insert(argv.end(), extra.begin(), extra.end());
    EXPECT_EQ(PlanFrom(argv).status().code(), absl::StatusCode::kInvalidArgument) << extra[0];
  }
  EXPECT_EQ(PlanFrom({"--dp-noise-multiplier", "1", "--dp-clip", "1", "--dp-prototype-noise", "1"}).status().code(),
            absl::StatusCode::kInvalidArgument);  // site mode
}

}  // namespace
}  // namespace fedlog::cli
