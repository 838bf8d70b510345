#include "client/privacy_policy.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/line_count.h"

namespace fedlog::client {
namespace {

bool FiniteNonNegative(double v) { return std::isfinite(v) && v >= 0; }
bool FinitePositive(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

bool WantsDp(const v1::SitePrivacyPolicy& p) {
  return p.require_dp() || p.max_epsilon() > 0 || p.min_noise_multiplier() > 0;
}

bool DeclaresLines(const v1::SitePrivacyPolicy& p) {
  return p.has_declare_lines() ? p.declare_lines() : !WantsDp(p);
}

bool ReportsUpdateNorm(const v1::SitePrivacyPolicy& p) {
  return p.has_report_update_norm() ? p.report_update_norm() : !WantsDp(p);
}

absl::Status FinalizeSitePrivacyPolicy(v1::SitePrivacyPolicy* p) {
  if (!FiniteNonNegative(p->max_epsilon())) {
    return absl::InvalidArgumentError("privacy.max_epsilon must be a finite number >= 0 (0 = no ceiling)");
  }
  if (!FiniteNonNegative(p->min_noise_multiplier())) {
    return absl::InvalidArgumentError("privacy.min_noise_multiplier must be a finite number >= 0 (0 = any)");
  }
  if (p->min_count_noise() != 0 && !privacy::IsValidLineCountNoise(p->min_count_noise())) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.min_count_noise must be 0 (any) or in [",
                                                   privacy::kMinLineCountNoise, ", ", privacy::kMaxLineCountNoise,
                                                   "]"));
  }
  if (p->delta() == 0) p->set_delta(kDefaultSiteDelta);
  if (!(p->delta() > 0 && p->delta() < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.delta must be in (0, 1); got ", p->delta()));
  }
  if (!p->has_upload_prototypes()) p->set_upload_prototypes(true);
  return absl::OkStatus();
}

absl::Status ValidateTaskPrivacy(const v1::RoundTask& t) {
  // The class-sum release under secure aggregation: the noise shares must be the round's threshold, which this
  // site's secagg session checks against the roster (a majority); any other t would let the sum of t survivors
  // carry less than the charged noise (docs/PRIVACY.md).
  const bool release_round = t.secure_aggregation() && t.secagg().class_sum_release();
  if (t.plan().line_dp_prototype_noise_shares() != (release_round ? t.secagg().threshold() : 0) ||
      (release_round && (t.dp_mode() != "line" || !(t.plan().line_dp_prototype_noise() > 0)))) {
    return absl::InvalidArgumentError(
        "round task: line_dp_prototype_noise_shares must be the threshold of a line-DP secure-aggregation release "
        "round, and 0 otherwise");
  }
  if (t.dp_mode().empty()) return absl::OkStatus();
  if (t.dp_mode() != "site" && t.dp_mode() != "line") {
    return absl::InvalidArgumentError("round task: unknown dp_mode");
  }
  if (!FinitePositive(t.dp_noise_multiplier()) || !FinitePositive(t.dp_clip())) {
    return absl::InvalidArgumentError("round task: DP noise multiplier and clip must be finite and > 0");
  }
  if (t.dp_min_sites() < 1 || t.dp_min_sites() > kMaxDpMinSites) {
    return absl::InvalidArgumentError("round task: dp_min_sites out of range");
  }
  if (!(t.dp_delta() > 0 && t.dp_delta() < 1)) return absl::InvalidArgumentError("round task: dp_delta not in (0, 1)");
  if (!(t.dp_sampling_rate() >= 0 && t.dp_sampling_rate() <= 1)) {
    return absl::InvalidArgumentError("round task: dp_sampling_rate not in (0, 1]");
  }
  const v1::TrainingPlan& p = t.plan();
  if (!p.line_dp_objective().empty() && p.line_dp_objective() != "per_line" &&
      p.line_dp_objective() != "episodes") {
    return absl::InvalidArgumentError("round task: unknown line_dp_objective");
  }
  if (!p.line_dp_scope().empty() && p.line_dp_scope() != "adapters" && p.line_dp_scope() != "all") {
    return absl::InvalidArgumentError("round task: unknown line_dp_scope");
  }
  if (!(p.line_dp_anomalous_rate() >= 0 && p.line_dp_anomalous_rate() <= 1) || p.line_dp_normal_lines() < 0 ||
      p.line_dp_normal_lines() > kMaxDpNormalLines) {
    return absl::InvalidArgumentError("round task: line_dp_anomalous_rate or line_dp_normal_lines out of range");
  }
  if (p.line_dp_count_noise() != 0 && !privacy::IsValidLineCountNoise(p.line_dp_count_noise())) {
    return absl::InvalidArgumentError("round task: line_dp_count_noise out of range");
  }
  if ((p.line_dp_prototype_noise() != 0 && !privacy::IsValidClassSumNoise(p.line_dp_prototype_noise())) ||
      p.line_dp_prototype_round() < 0) {
    return absl::InvalidArgumentError("round task: line_dp_prototype_noise or line_dp_prototype_round out of range");
  }
  if (p.line_dp_prototype_directions() && !(p.line_dp_prototype_noise() > 0)) {
    return absl::InvalidArgumentError("round task: line_dp_prototype_directions without a class-sum release");
  }
  return absl::OkStatus();
}

privacy::MechanismStep SiteCharge(const v1::SitePrivacyPolicy& policy, const v1::RoundTask& task) {
  privacy::MechanismStep step;
  const double q = task.dp_sampling_rate() > 0 ? task.dp_sampling_rate() : 1.0;
  step.sampling_rate = policy.trust_sampling() ? q : 1.0;
  step.noise_multiplier = task.dp_noise_multiplier();
  step.steps = 1;
  return step;
}

absl::Status CheckRoundAgainstPolicy(const v1::SitePrivacyPolicy& policy, const v1::RoundTask& task,
                                     const SiteLedger& ledger) {
  FEDLOG_RETURN_IF_ERROR(ValidateTaskPrivacy(task));
  if (policy.require_secure_aggregation() && !task.secure_aggregation()) {
    return absl::FailedPreconditionError("site policy requires secure aggregation; the round has none");
  }
  if (task.dp_mode() == "line") {
    const double count_noise = privacy::EffectiveLineCountNoise(task.plan().line_dp_count_noise());
    if (count_noise < policy.min_count_noise()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "round line-count noise %g is below the site's min_count_noise %g", count_noise, policy.min_count_noise()));
    }
  }
  if (!WantsDp(policy)) return absl::OkStatus();
  if (task.dp_mode().empty()) {
    return absl::FailedPreconditionError("site policy requires differential privacy; the round has none");
  }
  if (task.dp_noise_multiplier() < policy.min_noise_multiplier()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "round noise multiplier %g is below the site's min_noise_multiplier %g", task.dp_noise_multiplier(),
        policy.min_noise_multiplier()));
  }
  if (policy.max_epsilon() <= 0) return absl::OkStatus();
  if (task.dp_mode() == "line") {
    // The line-level epsilon is known only after DP-SGD ran; refuse once the recorded spend reached the ceiling.
    if (ledger.epsilon() >= policy.max_epsilon()) {
      return absl::FailedPreconditionError(absl::StrFormat("site epsilon %.4g already reached max_epsilon %g",
                                                           ledger.epsilon(), policy.max_epsilon()));
    }
    return absl::OkStatus();
  }
  FEDLOG_ASSIGN_OR_RETURN(double after, ledger.EpsilonIfCharged(SiteCharge(policy, task)));
  if (after > policy.max_epsilon()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "round would take the site's epsilon to %.4g, above its max_epsilon %g (delta %g)", after,
        policy.max_epsilon(), ledger.delta()));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::client
