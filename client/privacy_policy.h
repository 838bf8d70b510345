// The site's own privacy policy (site.yaml `privacy:`, v1::SitePrivacyPolicy): what a round must promise before
// this site trains on its lines and uploads. The daemon checks each round task against it and declines a weaker
// round (client/site_daemon.cc, the DeclineRound RPC); it also charges its own ledger (client/site_ledger.h)
// with the rounds it takes part in under site-level DP.
// The task comes from the aggregator, so its DP numbers are validated here before any is used.
// Thread-safe: stateless functions.
#ifndef FEDLOG_CLIENT_PRIVACY_POLICY_H_
#define FEDLOG_CLIENT_PRIVACY_POLICY_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/site_ledger.h"
#include "common/privacy/ledger.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::client {

inline constexpr double kDefaultSiteDelta = 1e-5;
inline constexpr int32_t kMaxDpMinSites = 1 << 20;
inline constexpr int32_t kMaxDpNormalLines = 1 << 20;  // TrainingPlan.line_dp_normal_lines

// Fills defaults (delta 1e-5, upload_prototypes true) and checks ranges: max_epsilon
// and min_noise_multiplier finite and >= 0, min_count_noise 0 or in [1, 1e6], delta in (0, 1). InvalidArgument
// naming the `privacy.` field otherwise.
absl::Status FinalizeSitePrivacyPolicy(v1::SitePrivacyPolicy* policy);

// True when the policy asks for DP: require_dp, or max_epsilon or min_noise_multiplier > 0.
bool WantsDp(const v1::SitePrivacyPolicy& policy);

// Whether Hello carries the site's exact line counts: privacy.declare_lines when set, else !WantsDp (a site
// that asks for DP withholds them; docs/PRIVACY.md "Line counts in Hello"). Read when Hello is built, so a
// policy changed after FinalizeSitePrivacyPolicy still gets its default.
bool DeclaresLines(const v1::SitePrivacyPolicy& policy);
// Whether the site states its update's norm with its secure-aggregation keys (common/secagg/norm_bound.h):
// privacy.report_update_norm when set, else !WantsDp.
bool ReportsUpdateNorm(const v1::SitePrivacyPolicy& policy);

// The DP numbers of a task, checked: dp_mode "", "site" or "line"; with a mode, noise multiplier finite and > 0,
// clip finite and > 0, dp_min_sites in [1, kMaxDpMinSites], delta in (0, 1), sampling rate in (0, 1]
// (0 is read as 1); the plan's line_dp_objective "", "per_line" or "episodes", line_dp_anomalous_rate in [0, 1]
// and line_dp_normal_lines in [0, kMaxDpNormalLines] (0: the default), line_dp_count_noise 0 (the default 100)
// or in [1, 1e6], line_dp_prototype_noise 0 (no release) or in [0.01, 1e6] and line_dp_prototype_round >= 0,
// line_dp_prototype_directions only with a release noise;
// line_dp_prototype_noise_shares equal to the secagg threshold in a line-DP secure-aggregation round with
// SecAggConfig.class_sum_release and a release noise, 0 in every other task. InvalidArgument otherwise.
absl::Status ValidateTaskPrivacy(const v1::RoundTask& task);

// What this site charges its ledger with for `task` under site-level DP: sigma from the task, q = 1 unless the
// policy trusts the aggregator's sampling rate. One step per round.
privacy::MechanismStep SiteCharge(const v1::SitePrivacyPolicy& policy, const v1::RoundTask& task);

// OK when the site may take part in `task`; FailedPrecondition with a short, printable reason (sent to the
// aggregator as is) when the round is weaker than the policy: no secure aggregation where it is required, no DP
// where required (max_epsilon or min_noise_multiplier > 0 imply it), a smaller noise multiplier, or (site mode)
// an epsilon the ledger would exceed max_epsilon with; line mode: a line-count noise below min_count_noise, or
// the ledger already at max_epsilon.
// InvalidArgument for a task whose DP numbers are invalid (ValidateTaskPrivacy).
absl::Status CheckRoundAgainstPolicy(const v1::SitePrivacyPolicy& policy, const v1::RoundTask& task,
                                     const SiteLedger& ledger);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_PRIVACY_POLICY_H_
