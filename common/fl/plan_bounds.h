// Bounds on a round plan's local work (v1::TrainingPlan), shared by the two ends that check it: the aggregator
// refuses a run plan beyond them at run start (server ValidateRunPlan, server/coordinator_checks.h), and a site
// refuses a round task beyond them (client/aggregator_checks.h CheckRoundTask), so a plan that every site would
// refuse never starts. Far above any plan docs/OPERATIONS.md describes, low enough that a plan cannot hold a
// site's trainer for days or size a batch beyond memory.
#ifndef FEDLOG_COMMON_FL_PLAN_BOUNDS_H_
#define FEDLOG_COMMON_FL_PLAN_BOUNDS_H_

#include <cstdint>

namespace fedlog::fl {

inline constexpr int32_t kMaxLocalEpochs = 10000;
inline constexpr int32_t kMaxLocalSteps = 1000000;  // contrastive_steps, meta_iterations
inline constexpr int32_t kMaxInnerSteps = 10000;
inline constexpr int32_t kMaxBatchSize = 1 << 20;   // batch_size, line_dp_normal_lines

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_PLAN_BOUNDS_H_
