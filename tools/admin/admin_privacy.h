// The privacy part of the admin verbs (docs/PRIVACY.md): the --dp-* flags of `fedlog run start`, the epsilon
// column of the round table, and the per-site declines shown by `fedlog run status` and `fedlog sites`.
// Thread-compatible: stateless helpers of the CLI.
#ifndef FEDLOG_TOOLS_ADMIN_ADMIN_PRIVACY_H_
#define FEDLOG_TOOLS_ADMIN_ADMIN_PRIVACY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fedlog/v1/admin.pb.h"
#include "tools/cli/args.h"

namespace fedlog::cli {

// The options `run start` accepts for privacy: dp-noise-multiplier, dp-clip, dp-delta, target-epsilon,
// dp-mode, and line mode's dp-objective, dp-anomalous-rate, dp-normal-lines, dp-scope, dp-count-noise,
// dp-prototype-noise, dp-prototype-share; and its valueless flags: dp-contrastive. (Secure aggregation's flag
// belongs to that feature.)
std::vector<std::string> PrivacyOptionNames();
std::vector<std::string> PrivacyFlagNames();
// Copies them into `plan`, checking them as the aggregator will (InvalidArgument naming the flag): any --dp-*
// or --target-epsilon turns DP on, --dp-mode defaults to site, and then --dp-noise-multiplier and --dp-clip
// are required and > 0, --dp-delta in (0, 1), --target-epsilon >= 0; --dp-objective per_line|episodes,
// --dp-contrastive, --dp-anomalous-rate in (0, 1], --dp-normal-lines >= 1, --dp-scope adapters|all and
// --dp-count-noise in [1, 1e6] (default 100) need --dp-mode line, as do --dp-prototype-noise S in [0.01, 1e6]
// or --dp-prototype-share F in (0, 1) with --target-epsilon (S then the smallest noise at which the one class-sum
// release alone spends F of the target; common/privacy/class_sums.h).
absl::Status SetPrivacyFlags(const Args& args, v1::RunPlan* plan);

// The round table's extra column under DP ("" without DP): its header and one round's cell.
std::string PrivacyColumnHeader(const v1::RunPlan& plan);
std::string PrivacyColumn(const v1::RunPlan& plan, const v1::RoundSummary& round);
// One line on the run's privacy ("" without DP and declines): mode, sigma, clip, line mode's count noise,
// epsilon spent of the target.
std::string PrivacySummary(const v1::RunStatus& status);
// "site-1 x2 (reason)" lines of the run's declines, one per site.
std::vector<std::string> DeclineLines(const v1::RunStatus& status);
// The number of rounds `site_id` declined in `status`'s run (0 when none).
int64_t DeclinesOf(const v1::RunStatus& status, const std::string& site_id);

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_ADMIN_ADMIN_PRIVACY_H_
