// The aggregator's side of differential privacy (docs/PRIVACY.md): the DP fields of a run plan, the run's
// accountant, the DP fields of a round task, and the checks on what sites say about privacy (the epsilon they
// report, the reason they give for declining a round).
//
// Site-level DP: one step of the sampled Gaussian mechanism per round attempt, with q = participants / online
// sites and sigma = plan.dp_noise_multiplier. The run's ledger is rebuilt from the stored round attempts (their
// q and the plan's sigma; stored epsilons are only shown), so it survives a restart. Every opened attempt is
// charged: its participants trained and sent noised updates whether or not the attempt completed.
// Thread-safe: stateless functions (the Coordinator calls them under its own lock).
#ifndef FEDLOG_SERVER_COORDINATOR_PRIVACY_H_
#define FEDLOG_SERVER_COORDINATOR_PRIVACY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/privacy/ledger.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/federation.pb.h"
#include "server/state_store.h"

namespace fedlog::server {

inline constexpr double kDefaultDpDelta = 1e-5;
inline constexpr double kMaxDpNoiseMultiplier = 1e6;
inline constexpr double kMaxDpClip = 1e12;
inline constexpr double kMaxReportedEpsilon = 1e9;
inline constexpr size_t kMaxDeclineReason = 256;

// Validates the plan's DP fields and fills defaults: a DP value without dp_mode means "site"; dp_mode "site" or
// "line" needs dp_noise_multiplier in (0, kMaxDpNoiseMultiplier] and dp_clip in (0, kMaxDpClip]; dp_delta 0
// becomes 1e-5 and must be in (0, 1); target_epsilon finite and >= 0. Site mode also needs strategy fedavg (the
// mean of the noised updates is what the accountant covers; a median or a blended weight is not) and no
// server-side clip_norm (scaling a noised update down would scale its noise share down too). Line mode:
// line_dp_count_noise 0 becomes 100 (privacy::kDefaultLineCountNoise) and must be in [1, 1e6]; the line_dp_*
// fields are refused in any other mode.
absl::Status ValidatePrivacyPlan(v1::RunPlan* plan);

// The class-sum release of a line-DP plan (RunPlan 63-64, common/privacy/class_sums.h): OK without one; else
// InvalidArgument unless dp_mode is "line", the noise is in [0.01, 1e6] and the share in [0, 1); under secure
// aggregation also unless secagg_clip_range exceeds 1 and max_site_samples (when set) is at least
// privacy::MinReleaseWeight for the largest noise share (t = 2), so that some site can mask the release.
absl::Status ValidateClassSumRelease(const v1::RunPlan& plan);

// Whether round `round` (1-based) of the plan's run releases class sums (line DP, a release noise, the last round).
bool ReleasesClassSums(const v1::RunPlan& plan, int32_t round);

bool SiteLevelDp(const v1::RunPlan& plan);

// The run's ledger from its stored round attempts (those charged: dp_sampling_rate > 0), with the plan's delta
// (no target: the caller compares). InvalidArgument when a stored attempt cannot be charged.
absl::StatusOr<privacy::PrivacyLedger> RunLedger(const v1::RunPlan& plan, const std::vector<RoundRecord>& rounds);

// The mechanism step of one round attempt with `participants` of `online` sites (q = participants / online).
privacy::MechanismStep RoundStep(const v1::RunPlan& plan, size_t participants, size_t online);

// Copies the plan's privacy settings and the round's charge into `task` (RoundTask 20, 30-36).
void FillTaskPrivacy(const v1::RunPlan& plan, const RoundRecord& round, v1::RoundTask* task);

// Shuffles `items` with the CSPRNG (common/privacy GaussianSampler's key stream), so that which sites a round
// samples cannot be predicted. Internal when OpenSSL cannot supply randomness.
absl::Status SecretShuffle(std::vector<std::string>* items);

// Keeps the plan's sample_fraction of `record`'s participants (the online sites), at least min_sites, sorted;
// all of them at a fraction of 1 (or 0, unset). The sample comes from the CSPRNG (SecretShuffle): no site can
// predict the rounds it will be asked to, and the accountant's amplification by sampling under site-level DP
// holds only for such a sample (docs/PRIVACY.md). A restart resumes an open round with its stored participants,
// so nothing needs the sample to be reproducible. Internal when OpenSSL cannot supply randomness.
absl::Status SampleRoundSites(const v1::RunPlan& plan, RoundRecord* record);

// Under line DP, an upload must state the noise it put on its line count (UpdateHeader.line_dp_count_noise) at
// or above the plan's (0 read as 100): FailedPrecondition otherwise (an exact count, or one noised less than
// the run asked). The site's word is not proof: the protection still rests on the daemon. OK outside line DP.
absl::Status CheckLineDpCountNoise(const v1::RunPlan& plan, const v1::UpdateHeader& header);

// Line DP's class-sum release form: in a release round of a plan with line_dp_prototype_directions the header
// must state class_sum_directions (a site states its plan's form whether or not its own sums are in the update),
// and in every other round it must not. FailedPrecondition otherwise: a count column of 0 at some sites and
// counts at others would make the pooled means neither form's (common/privacy/class_sums.h).
absl::Status CheckClassSumForm(const v1::RunPlan& plan, const v1::UpdateHeader& header);

// A site-reported epsilon (UpdateHeader.dp_epsilon): finite, in [0, kMaxReportedEpsilon].
absl::Status ValidateReportedEpsilon(double epsilon);

// A decline reason as stored and shown: at most kMaxDeclineReason bytes, every byte outside printable ASCII
// replaced by '?'; empty becomes "no reason given".
std::string SanitiseDeclineReason(const std::string& reason);

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_COORDINATOR_PRIVACY_H_
