// The site daemon's privacy hooks: declining a round its policy finds too weak, and the privacy step of the
// upload path with the charge to the site's own ledger (client/privacy_policy.h, client/privacy_step.h,
// client/site_ledger.h; docs/PRIVACY.md).
#include "absl/strings/str_cat.h"
#include "client/privacy_policy.h"
#include "client/privacy_step.h"
#include "client/site_daemon.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/fl/fedavg.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/line_count.h"
#include "common/privacy/ledger.h"

namespace fedlog::client {

absl::Status SiteDaemon::Decline(const v1::RoundTask& task, const absl::Status& why) {
  const std::string reason(why.message());
  FEDLOG_LOG(WARNING) << "declined run " << task.run_id() << " round " << task.round() << " under this site's "
                      << "privacy policy: " << reason;
  FEDLOG_RETURN_IF_ERROR(session()->DeclineRound(task.run_id(), task.round(), reason));
  // Not OK either way, so the daemon backs off before it asks again: a run that keeps offering weaker rounds
  // (each new attempt is offered again) is not answered many times a second.
  return absl::AbortedError("round declined under the site's privacy policy");
}

absl::Status SiteDaemon::ProtectUpdate(const v1::RoundTask& task, const fl::TensorBundle& global,
                                       LocalUpdate* update) {
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  FEDLOG_ASSIGN_OR_RETURN(PrivacyStepResult step,
                          ApplyPrivacyStep(task, config_.privacy(), sampler, &update->delta));
  if (step.dropped_tensors > 0) {
    FEDLOG_LOG(INFO) << "round " << task.round() << ": " << step.dropped_tensors
                     << " optional tensor(s) kept at the site (privacy policy / site-level DP)";
  }
  if (task.dp_mode() == "line") return ChargeLineDp(task, global, update);
  if (!step.noised) return absl::OkStatus();
  // Charged before the update can leave: a crash after this point over-counts, never under-counts.
  FEDLOG_RETURN_IF_ERROR(ledger_.Charge(task.run_id(), task.round(), SiteCharge(config_.privacy(), task)));
  FEDLOG_ASSIGN_OR_RETURN(double run_epsilon, ledger_.RunEpsilon(task.run_id()));
  update->header.set_dp_epsilon(run_epsilon);
  FEDLOG_LOG(INFO) << "round " << task.round() << ": site-level DP, update clipped to " << task.dp_clip()
                   << " (scale " << step.clip_scale << "), noise share stddev " << step.noise_stddev << " on "
                   << step.coordinates << " values; site epsilon " << run_epsilon << " this run, "
                   << ledger_.epsilon() << " in all (delta " << ledger_.delta()
                   << "); aggregator's run epsilon " << task.dp_epsilon_after();
  return absl::OkStatus();
}

absl::Status SiteDaemon::ChargeLineDp(const v1::RoundTask& task, const fl::TensorBundle& global,
                                      LocalUpdate* update) {
  // Every phase of the round's DP-SGD is charged before the update can leave (over-count on a crash, never
  // under-count); the file records the mechanisms, so the epsilon is recomputed, never trusted.
  for (const LocalUpdate::LineDpCharge& c : update->line_dp) {
    privacy::MechanismStep step;
    step.sampling_rate = c.q;
    step.noise_multiplier = c.sigma;
    step.steps = c.steps;
    FEDLOG_RETURN_IF_ERROR(ledger_.Charge(task.run_id(), task.round(), step));
  }
  // The line count that weighs the update leaves only noised, at the plan's stddev (validated by
  // ValidateTaskPrivacy, at or above the policy's floor), charged to the same ledger first.
  const double count_noise = privacy::EffectiveLineCountNoise(task.plan().line_dp_count_noise());
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  FEDLOG_ASSIGN_OR_RETURN(
      int64_t weight, ReleaseLineCount(task.run_id(), task.round(), count_noise, sampler, &ledger_, &update->header));
  if (task.secure_aggregation() && task.secagg().class_sum_release()) {
    // A masked section with distributed noise; a site that withholds its sums still adds its noise share.
    const bool withhold = config_.privacy().has_upload_prototypes() && !config_.privacy().upload_prototypes();
    FEDLOG_RETURN_IF_ERROR(PrepareMaskedClassSumRelease(task, global, weight, withhold, sampler, &update->delta,
                                                        &update->header));
  } else {
    FEDLOG_RETURN_IF_ERROR(ScaleClassSumRelease(global, weight, &update->delta));
  }
  // The release's form, stated in its round whether or not this site's sums are in it (the aggregator refuses
  // a form other than the plan's).
  if (task.plan().line_dp_prototype_noise() > 0 && task.round() == task.plan().line_dp_prototype_round()) {
    update->header.set_class_sum_directions(task.plan().line_dp_prototype_directions());
  }
  FEDLOG_ASSIGN_OR_RETURN(double run_epsilon, ledger_.RunEpsilon(task.run_id()));
  update->header.set_line_dp_count_noise(count_noise);
  update->header.set_line_dp_epsilon(run_epsilon);
  update->header.set_dp_epsilon(run_epsilon);
  FEDLOG_LOG(INFO) << "round " << task.round() << ": line-level DP-SGD (" << update->line_dp.size()
                   << " phase(s), sigma " << task.plan().line_dp_noise_multiplier() << ", clip "
                   << task.plan().line_dp_clip() << "), line count released with noise stddev " << count_noise
                   << (update->delta.Find(fl::kReleasedPrototypesName) != nullptr
                           ? absl::StrCat(task.plan().line_dp_prototype_directions() ? ", class sums (no counts)"
                                                                                      : ", class sums and counts",
                                          " with noise stddev ", task.plan().line_dp_prototype_noise(),
                                          task.plan().line_dp_prototype_noise_shares() > 0
                                              ? absl::StrCat(" (this site's share: 1/",
                                                             task.plan().line_dp_prototype_noise_shares(),
                                                             " of its variance, masked)")
                                              : std::string())
                           : std::string())
                   << "; site epsilon " << run_epsilon << " this run, " << ledger_.epsilon()
                   << " in all (delta " << ledger_.delta() << ")";
  if (DeclaredLinesInHello()) {
    FEDLOG_LOG(WARNING) << "this site declared its exact line counts in Hello before the line-DP run began; set "
                        << "privacy.declare_lines: false (or a DP policy) to withhold them (docs/PRIVACY.md)";
  }
  return absl::OkStatus();
}

bool SiteDaemon::DeclaredLinesInHello() const {
  for (const v1::SourceInfo& s : hello_.sources()) {
    if (s.lines() > 0) return true;
  }
  return false;
}

}  // namespace fedlog::client
