// The privacy step of a site's upload path: what leaves the site after local training and before encoding and
// upload (client/site_daemon.cc DoRound). In order:
//   1. prototypes.global and adapter.<source>.prototypes are dropped when the site's policy says
//      upload_prototypes: false;
//   2. under site-level DP (task dp_mode "site") only the shared parameters leave the site: the optional
//      adapter.* and prototypes.* tensors are averaged by the aggregator over the sites that carry them, a
//      subset that the noise of n_min sites need not reach, so they stay local. The whole update (every tensor
//      that is uploaded, as one vector) is clipped to L2 norm C and this site's share of Gaussian noise,
//      N(0, (sigma*C)^2 / n_min) per coordinate from the CSPRNG, is added (common/privacy/site_dp.h), so that
//      the sum over at least n_min sites carries noise of standard deviation sigma*C.
// Under line-level DP the line count that weighs the update leaves the site only noised (ReleaseLineCount), and
// the class-sum release leaves divided by it (ScaleClassSumRelease).
// Secure-aggregation masking, when a run asks for it, comes after this step (it must mask the noised update).
// Thread-compatible: one sampler per call site.
#ifndef FEDLOG_CLIENT_PRIVACY_STEP_H_
#define FEDLOG_CLIENT_PRIVACY_STEP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "client/site_ledger.h"
#include "common/fl/tensor_bundle.h"
#include "common/privacy/gaussian_noise.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::client {

struct PrivacyStepResult {
  int dropped_tensors = 0;     // optional tensors kept at the site (prototypes.*; under site-level DP adapter.* too)
  bool noised = false;         // site-level DP applied
  double norm_before = 0;      // L2 norm of the update before clipping (kept local: never logged with values)
  double clip_scale = 1;       // factor the update was scaled by (min(1, C / norm))
  double noise_stddev = 0;     // per-coordinate stddev of this site's noise share
  int64_t coordinates = 0;     // values noised
};

// Applies the step to `delta` in place. The task's DP numbers must have passed ValidateTaskPrivacy
// (client/privacy_policy.h); InvalidArgument otherwise or for a non-finite update value.
absl::StatusOr<PrivacyStepResult> ApplyPrivacyStep(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy,
                                                   privacy::GaussianSampler& sampler, fl::TensorBundle* delta);

// Line-level DP's release of the line count (common/privacy/line_count.h; docs/PRIVACY.md, "The line count
// under line DP"): charges `ledger` with run `run_id` round `round` of one Gaussian step at q = 1 and noise
// multiplier `noise` (sensitivity 1) first, then replaces header->num_samples by the count plus N(0, noise^2)
// from `sampler`, rounded and clamped to [1, fl::kMaxUpdateSamples]. Returns the released count. Errors from
// the ledger (nothing is released then) or InvalidArgument for a negative count or a noise out of range.
absl::StatusOr<int64_t> ReleaseLineCount(int64_t run_id, int32_t round, double noise,
                                         privacy::GaussianSampler& sampler, SiteLedger* ledger,
                                         v1::UpdateHeader* header);

// Line-level DP's class-sum release (common/privacy/class_sums.h) in an update: the delta's
// `prototypes.release` (the site's noised sums and counts minus the global model's tensor of that name, if any)
// becomes the delta of those sums divided by `weight`, the update's released line count, so that the
// aggregator's weighted mean is the pooled sums over the weights' sum. No release in `delta`: nothing changes.
// InvalidArgument for a weight < 1 or a global tensor of another shape.
absl::Status ScaleClassSumRelease(const fl::TensorBundle& global, int64_t weight, fl::TensorBundle* delta);

// The class-sum release under secure aggregation (docs/PRIVACY.md, "The class-sum release under secure
// aggregation"), in a task with SecAggConfig.class_sum_release, after ReleaseLineCount (`weight` is the released
// count). In order:
//   1. a site whose policy withholds prototypes (`withhold`) releases what a site without labelled lines does,
//      zeros plus its noise share N(0, s^2 / t) from `sampler` (in the plan's form: with
//      line_dp_prototype_directions the count columns stay 0), instead of dropping the release: every survivor
//      of the round must add its share, or the sum of t survivors would carry less than the charged noise;
//   2. the release is divided by the weight the site masks with, min(weight, the round's W), so that the
//      weighted lanes carry the release itself, noise share whole;
//   3. the range rule (privacy::CheckReleaseFitsRange, with the round's R less the largest |value| of the global
//      model's prototypes.release, which the delta subtracts): FailedPrecondition when the weight cannot hold the
//      noise share (the site then refuses to mask; only public numbers decide).
// Sets header->class_sum_noise_shares to t. InvalidArgument when the task or delta are inconsistent.
absl::Status PrepareMaskedClassSumRelease(const v1::RoundTask& task, const fl::TensorBundle& global, int64_t weight,
                                          bool withhold, privacy::GaussianSampler& sampler, fl::TensorBundle* delta,
                                          v1::UpdateHeader* header);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_PRIVACY_STEP_H_
