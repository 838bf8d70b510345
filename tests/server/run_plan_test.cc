// ValidateRunPlan (server/coordinator_checks.h): the run-start checks refuse the local work every site would
// refuse (common/fl/plan_bounds.h, the bounds client CheckRoundTask applies), so such a run never starts and then
// stalls with every task declined; a plan at the bounds passes, and passes again unchanged.
#include <string>

#include "common/fl/plan_bounds.h"
#include "fedlog/v1/admin.pb.h"
#include "gtest/gtest.h"
#include "server/coordinator_checks.h"

namespace fedlog::server {
namespace {

v1::RunPlan Plain() {
  v1::RunPlan p;
  p.set_rounds(3);
  p.set_min_sites(2);
  return p;
}

TEST(RunPlanTest, LocalWorkSitesWouldRefuseIsRefusedAtRunStartNamingTheField) {
  struct Case {
    const char* field;
    void (*set)(v1::TrainingPlan*, int32_t);
    int32_t max;
  };
  const Case cases[] = {
      {"local_epochs", [](v1::TrainingPlan* t, int32_t v) { t->set_local_epochs(v); }, fl::kMaxLocalEpochs},
      {"batch_size", [](v1::TrainingPlan* t, int32_t v) { t->set_batch_size(v); }, fl::kMaxBatchSize},
      {"contrastive_steps", [](v1::TrainingPlan* t, int32_t v) { t->set_contrastive_steps(v); }, fl::kMaxLocalSteps},
      {"meta_iterations", [](v1::TrainingPlan* t, int32_t v) { t->set_meta_iterations(v); }, fl::kMaxLocalSteps},
      {"inner_steps", [](v1::TrainingPlan* t, int32_t v) { t->set_inner_steps(v); }, fl::kMaxInnerSteps},
      {"line_dp_normal_lines", [](v1::TrainingPlan* t, int32_t v) { t->set_line_dp_normal_lines(v); },
       fl::kMaxBatchSize},
  };
  for (const Case& c : cases) {
    v1::RunPlan at = Plain();
    c.set(at.mutable_training(), c.max);
    EXPECT_TRUE(ValidateRunPlan(&at).ok()) << c.field;
    v1::RunPlan again = at;
    ASSERT_TRUE(ValidateRunPlan(&again).ok()) << c.field;
    EXPECT_EQ(again.SerializeAsString(), at.SerializeAsString()) << c.field;

    v1::RunPlan above = Plain();
    c.set(above.mutable_training(), c.max + 1);
    const absl::Status s = ValidateRunPlan(&above);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(std::string(s.message()).find(c.field), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace fedlog::server
