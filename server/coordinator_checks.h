// Checks on the numbers and strings a site sends, before any of them reaches the state store, a strategy or an
// admin's terminal (docs/SECURITY-aggregation.md lists every bound). Each returns InvalidArgument with a reason
// that quotes no site-supplied text beyond its field name, so refusal messages stay short and printable.
// Thread-safe: stateless functions.
#ifndef FEDLOG_SERVER_COORDINATOR_CHECKS_H_
#define FEDLOG_SERVER_COORDINATOR_CHECKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fedlog/v1/federation.pb.h"
#include "server/state_store.h"

namespace fedlog::server {

inline constexpr int kMaxHelloSources = 64;
// Calls that write a site's state (Hello, ReportEvaluation; Coordinator::PaceStateWrite): per site at most
// kStateWriteBurst at once, then kStateWritesPerSecond a second. A daemon says hello at start and after a failure,
// with backoff, and reports one evaluation a round.
inline constexpr int kStateWriteBurst = 20;
inline constexpr int kStateWritesPerSecond = 2;
inline constexpr size_t kMaxHelloText = 64;          // format, device, version
inline constexpr int64_t kMaxDeclaredLines = int64_t{1} << 40;
inline constexpr int kMaxMetrics = 64;
inline constexpr size_t kMaxMetricName = 64;
inline constexpr double kMaxMetricMagnitude = 1e12;
inline constexpr double kMaxTrainLoss = 1e12;

// Source names valid (fl::IsValidSourceName) and distinct, at most kMaxHelloSources; strings printable ASCII
// and at most kMaxHelloText; counts in range; promoted_version not negative.
absl::Status ValidateHello(const v1::HelloRequest& hello);
// num_samples in [1, fl::kMaxUpdateSamples]; train_loss finite, |loss| <= kMaxTrainLoss; distinct_templates
// >= 0; imbalance_ratio finite and >= 0 (values above fl::kMaxImbalanceRatio are clamped when weighed);
// class_sum_noise_shares in [0, secagg::kMaxSites] (the round then checks it equals its own); metrics as
// ValidateMetrics.
absl::Status ValidateUpdateHeader(const v1::UpdateHeader& header);
// At most kMaxMetrics entries; names 1..kMaxMetricName of [A-Za-z0-9._-]; values finite, |v| <= kMaxMetricMagnitude.
absl::Status ValidateMetrics(const google::protobuf::Map<std::string, double>& metrics);
// num_samples in [0, kMaxDeclaredLines]; metrics as ValidateMetrics.
absl::Status ValidateEvaluation(const v1::EvaluationReport& report);

// Text safe to print on a terminal: every byte outside printable ASCII becomes '?'.
std::string PrintableText(const std::string& text);

// What a site is told about a failure: statuses that may carry internal detail (SQL, file paths) become a
// generic message, the detail is logged; refusals (InvalidArgument, FailedPrecondition, ...) pass unchanged.
absl::Status ForSite(absl::Status status, const std::string& site_id);

// Default of RunPlan.max_site_weight_share: with two or more sites, none has more than half the weight.
inline constexpr double kDefaultMaxWeightShare = 0.5;

// The run-start checks of an admin's plan (Coordinator::StartRun), filling in every default: InvalidArgument
// naming the field for a number or name out of range or a combination refused (ValidateSecAggPlan,
// ValidatePrivacyPlan, ValidateAdaptiveClipPlan are part of it). A plan it passes passes it again unchanged.
absl::Status ValidateRunPlan(v1::RunPlan* plan);

// Adaptive clipping of a run (RunPlan 66-67, common/fl/adaptive_clip.h). Refuses a negative multiple, one in
// (0, 1) or above 1e6, a multiple with adaptive_clip_off, and a multiple under site-level DP (its sites clip to
// dp_clip and add noise; a bound from their norms would not hold the noised sum). Fills in the default: off under
// site-level DP, else fl::kDefaultAdaptiveClipMultiple when the multiple is 0. Under secure aggregation the
// multiple bounds each site's update norm through the norms the sites state (common/secagg/norm_bound.h).
absl::Status ValidateAdaptiveClipPlan(v1::RunPlan* plan);
// The multiple a round of `plan` clips with: 0 when adaptive clipping is off (a plan stored before RunPlan
// 66 existed reads 0 too, so a resumed older run keeps its behaviour).
double AdaptiveClipMultiple(const v1::RunPlan& plan);
// Model manifest metrics of a round's clipping: the reference r carried to the run's next round, the bound and
// how many updates were above it (plain rounds: common/fl/adaptive_clip.h; secure rounds: the sites' stated
// norms, common/secagg/norm_bound.h).
inline constexpr char kClipReferenceMetric[] = "clip_reference";
inline constexpr char kClipBoundMetric[] = "clip_bound";
inline constexpr char kClippedUpdatesMetric[] = "clipped_updates";

// The sample count a site's update is weighed with: `reported` capped by the plan's `max_site_samples` (when
// > 0) and by the lines the site declared in Hello (when > 0).
int64_t EffectiveSamples(int64_t reported, int64_t max_site_samples, int64_t declared_lines);

// Sources the site may train adapters for and receive: its admitted sources that it also declared in its
// last Hello (empty until admitted).
std::vector<std::string> EntitledSources(const SiteRecord& site);
// The lines a site declared over its sources in Hello (0 when it declared none).
int64_t DeclaredLines(const SiteRecord& site);

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_COORDINATOR_CHECKS_H_
