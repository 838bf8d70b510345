// The small line-DP run the privacy and line-count integration tests start: a little contrastive DP-SGD
// (noise multiplier 1, clip 1) on the tiny line encoder, 32-line batches, a 60 s round deadline. Each
// test sets what it checks (delta, count noise, the class-sum release) on the returned request.
#ifndef FEDLOG_TESTS_INTEGRATION_LINE_DP_PLAN_H_
#define FEDLOG_TESTS_INTEGRATION_LINE_DP_PLAN_H_

#include "fedlog/v1/admin.pb.h"

namespace fedlog::testing {

inline v1::StartRunRequest SmallLineDpRun(int rounds, int min_sites) {
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(rounds);
  plan->set_min_sites(min_sites);
  plan->set_round_deadline_s(60);
  plan->mutable_training()->set_contrastive_steps(2);
  plan->mutable_training()->set_meta_iterations(1);
  plan->mutable_training()->set_batch_size(32);
  plan->set_line_dp_contrastive(true);
  plan->set_dp_mode("line");
  plan->set_dp_noise_multiplier(1.0);
  plan->set_dp_clip(1.0);
  return req;
}

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_LINE_DP_PLAN_H_
