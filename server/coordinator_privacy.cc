// Differential privacy at the aggregator: plan validation, the run's accountant (charged before a round opens),
// round declines, and the privacy part of a run's status. See coordinator_privacy.h.
#include "server/coordinator_privacy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/line_count.h"
#include "server/coordinator.h"
#include "server/coordinator_checks.h"

namespace fedlog::server {

absl::Status ValidatePrivacyPlan(v1::RunPlan* plan) {
  const bool any = plan->dp_noise_multiplier() != 0 || plan->dp_clip() != 0 || plan->dp_delta() != 0 ||
                   plan->target_epsilon() != 0;
  if (plan->dp_mode().empty() && any) plan->set_dp_mode("site");
  if (plan->dp_mode().empty()) return absl::OkStatus();
  if (plan->dp_mode() != "site" && plan->dp_mode() != "line") {
    return absl::InvalidArgumentError("dp_mode must be 'site' or 'line'");
  }
  if (!(plan->dp_noise_multiplier() > 0 && plan->dp_noise_multiplier() <= kMaxDpNoiseMultiplier)) {
    return absl::InvalidArgumentError(
        absl::StrCat("differential privacy needs a noise multiplier in (0, ", kMaxDpNoiseMultiplier, "]"));
  }
  if (!(plan->dp_clip() > 0 && plan->dp_clip() <= kMaxDpClip)) {
    return absl::InvalidArgumentError(absl::StrCat("differential privacy needs a clip in (0, ", kMaxDpClip, "]"));
  }
  if (plan->dp_delta() == 0) plan->set_dp_delta(kDefaultDpDelta);
  if (!(plan->dp_delta() > 0 && plan->dp_delta() < 1)) return absl::InvalidArgumentError("dp_delta must be in (0, 1)");
  if (!(std::isfinite(plan->target_epsilon()) && plan->target_epsilon() >= 0)) {
    return absl::InvalidArgumentError("target_epsilon must be a finite number >= 0 (0 = no target)");
  }
  const bool line_settings = !plan->line_dp_objective().empty() || !plan->line_dp_scope().empty() ||
                             plan->line_dp_contrastive() || plan->line_dp_count_noise() != 0 ||
                             plan->line_dp_anomalous_rate() != 0 || plan->line_dp_normal_lines() != 0;
  if (line_settings && plan->dp_mode() != "line") {
    return absl::InvalidArgumentError("line_dp_* settings apply to dp_mode 'line' only");
  }
  if (!plan->line_dp_objective().empty() && plan->line_dp_objective() != "per_line" &&
      plan->line_dp_objective() != "episodes") {
    return absl::InvalidArgumentError("line_dp_objective must be 'per_line' or 'episodes'");
  }
  if (!plan->line_dp_scope().empty() && plan->line_dp_scope() != "adapters" && plan->line_dp_scope() != "all") {
    return absl::InvalidArgumentError("line_dp_scope must be 'adapters' or 'all'");
  }
  if (!(plan->line_dp_anomalous_rate() >= 0 && plan->line_dp_anomalous_rate() <= 1) ||
      plan->line_dp_normal_lines() < 0 || plan->line_dp_normal_lines() > (1 << 20)) {
    return absl::InvalidArgumentError("line_dp_anomalous_rate must be in [0, 1] and line_dp_normal_lines in "
                                      "[0, 1048576] (0: the default)");
  }
  FEDLOG_RETURN_IF_ERROR(ValidateClassSumRelease(*plan));
  if (plan->dp_mode() == "line") {
    plan->set_line_dp_count_noise(privacy::EffectiveLineCountNoise(plan->line_dp_count_noise()));
    if (!privacy::IsValidLineCountNoise(plan->line_dp_count_noise())) {
      return absl::InvalidArgumentError(absl::StrCat("line_dp_count_noise must be in [", privacy::kMinLineCountNoise,
                                                     ", ", privacy::kMaxLineCountNoise, "] (0: the default 100)"));
    }
  }
  if (plan->dp_mode() == "site") {
    if (plan->strategy() != "fedavg") {
      return absl::InvalidArgumentError(
          "site-level DP needs strategy fedavg: the accountant covers the mean of the noised updates, not a "
          "median, a trimmed mean or a blended weight");
    }
    if (plan->clip_norm() > 0) {
      return absl::InvalidArgumentError(
          "site-level DP: leave --clip-norm off (sites clip to --dp-clip; scaling a noised update down at the "
          "aggregator would scale its noise share down too)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateClassSumRelease(const v1::RunPlan& plan) {
  const double s = plan.line_dp_prototype_noise();
  if (s == 0 && plan.line_dp_prototype_share() == 0) {
    if (plan.line_dp_prototype_directions()) {
      return absl::InvalidArgumentError(
          "line_dp_prototype_directions needs a class-sum release (line_dp_prototype_noise)");
    }
    return absl::OkStatus();
  }
  if (plan.dp_mode() != "line") {
    return absl::InvalidArgumentError("line_dp_prototype_noise and _share apply to dp_mode 'line' only");
  }
  if (!privacy::IsValidClassSumNoise(s)) {
    return absl::InvalidArgumentError(absl::StrCat("line_dp_prototype_noise must be in [", privacy::kMinClassSumNoise,
                                                   ", ", privacy::kMaxClassSumNoise, "]"));
  }
  if (!(plan.line_dp_prototype_share() >= 0 && plan.line_dp_prototype_share() < 1)) {
    return absl::InvalidArgumentError("line_dp_prototype_share must be in [0, 1)");
  }
  if (plan.secure_aggregation()) {
    // The release is a masked section whose noise is split over each round's threshold t >= 2; its lanes are
    // clamped to [-R, R] after division by the site's weight. The largest share (t = 2) must fit a weight the
    // plan allows at all (class_sums.h MinReleaseWeight); a site whose own weight is below it refuses to mask.
    const double r = plan.secagg_clip_range() > 0 ? plan.secagg_clip_range() : 4.0;
    const double least = privacy::MinReleaseWeight(r, privacy::EffectiveLineCountNoise(plan.line_dp_count_noise()),
                                                   privacy::ClassSumShareStddev(s, 2));
    if (!std::isfinite(least)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the class-sum release under secure aggregation needs secagg_clip_range above 1 (it is ", r,
          "): the range must hold a site's sums and its noise share"));
    }
    if (plan.max_site_samples() > 0 && static_cast<double>(plan.max_site_samples()) < least) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the class-sum release under secure aggregation: max_site_samples ", plan.max_site_samples(),
          " is below ", least, ", the least weight at which secagg_clip_range ", r,
          " holds the release's noise share; no site could mask it (raise either)"));
    }
  }
  return absl::OkStatus();
}

bool ReleasesClassSums(const v1::RunPlan& plan, int32_t round) {
  return plan.dp_mode() == "line" && plan.line_dp_prototype_noise() > 0 && round == plan.rounds();
}

bool SiteLevelDp(const v1::RunPlan& plan) { return plan.dp_mode() == "site"; }

absl::StatusOr<privacy::PrivacyLedger> RunLedger(const v1::RunPlan& plan, const std::vector<RoundRecord>& rounds) {
  // No target in the ledger itself: what was spent was spent; the coordinator compares with the target before
  // it opens a round (ChargeRoundOrStop).
  privacy::LedgerOptions options;
  options.delta = plan.dp_delta() > 0 ? plan.dp_delta() : kDefaultDpDelta;
  FEDLOG_ASSIGN_OR_RETURN(privacy::PrivacyLedger ledger, privacy::PrivacyLedger::Create(options));
  int64_t n = 0;
  for (const RoundRecord& r : rounds) {
    if (r.dp_sampling_rate <= 0) continue;
    privacy::MechanismStep step;
    step.sampling_rate = std::min(1.0, r.dp_sampling_rate);
    step.noise_multiplier = plan.dp_noise_multiplier();
    FEDLOG_RETURN_IF_ERROR(ledger.Charge(++n, step));
  }
  return ledger;
}

privacy::MechanismStep RoundStep(const v1::RunPlan& plan, size_t participants, size_t online) {
  privacy::MechanismStep step;
  step.sampling_rate =
      online == 0 ? 1.0 : std::min(1.0, static_cast<double>(participants) / static_cast<double>(online));
  step.noise_multiplier = plan.dp_noise_multiplier();
  step.steps = 1;
  return step;
}

void FillTaskPrivacy(const v1::RunPlan& plan, const RoundRecord& round, v1::RoundTask* task) {
  task->set_secure_aggregation(plan.secure_aggregation());
  if (plan.dp_mode().empty()) return;
  task->set_dp_mode(plan.dp_mode());
  task->set_dp_noise_multiplier(plan.dp_noise_multiplier());
  task->set_dp_clip(plan.dp_clip());
  task->set_dp_min_sites(std::max(1, plan.min_sites()));
  task->set_dp_delta(plan.dp_delta());
  task->set_dp_sampling_rate(round.dp_sampling_rate > 0 ? round.dp_sampling_rate : 1.0);
  task->set_dp_epsilon_after(round.epsilon);
  if (plan.dp_mode() == "line") {  // the site's local work runs DP-SGD (common/model/dp_sgd.h)
    task->mutable_plan()->set_line_dp_noise_multiplier(plan.dp_noise_multiplier());
    task->mutable_plan()->set_line_dp_clip(plan.dp_clip());
    task->mutable_plan()->set_line_dp_delta(plan.dp_delta());
    task->mutable_plan()->set_line_dp_objective(plan.line_dp_objective());
    task->mutable_plan()->set_line_dp_contrastive(plan.line_dp_contrastive());
    task->mutable_plan()->set_line_dp_anomalous_rate(plan.line_dp_anomalous_rate());
    task->mutable_plan()->set_line_dp_normal_lines(plan.line_dp_normal_lines());
    task->mutable_plan()->set_line_dp_scope(plan.line_dp_scope());
    task->mutable_plan()->set_line_dp_count_noise(privacy::EffectiveLineCountNoise(plan.line_dp_count_noise()));
    if (plan.line_dp_prototype_noise() > 0) {  // released once, in the run's last round
      task->mutable_plan()->set_line_dp_prototype_noise(plan.line_dp_prototype_noise());
      task->mutable_plan()->set_line_dp_prototype_round(plan.rounds());
      task->mutable_plan()->set_line_dp_prototype_directions(plan.line_dp_prototype_directions());
      // Under secure aggregation the release round's noise is split over its threshold (StartSecAgg has put
      // the round's SecAggConfig in the task already).
      if (task->secure_aggregation() && task->secagg().class_sum_release()) {
        task->mutable_plan()->set_line_dp_prototype_noise_shares(task->secagg().threshold());
      }
    }
  }
}

absl::Status CheckLineDpCountNoise(const v1::RunPlan& plan, const v1::UpdateHeader& header) {
  if (plan.dp_mode() != "line") return absl::OkStatus();
  const double planned = privacy::EffectiveLineCountNoise(plan.line_dp_count_noise());
  if (header.line_dp_count_noise() <= 0) {
    return absl::FailedPreconditionError(
        "line-DP upload states no line-count noise (an exact count); the run asks for stddev " +
        absl::StrCat(planned));
  }
  if (header.line_dp_count_noise() < planned) {
    return absl::FailedPreconditionError(absl::StrCat("line-DP upload's line-count noise ",
                                                      header.line_dp_count_noise(), " is below the run's ", planned));
  }
  return absl::OkStatus();
}

absl::Status CheckClassSumForm(const v1::RunPlan& plan, const v1::UpdateHeader& header) {
  const bool directions = ReleasesClassSums(plan, header.round()) && plan.line_dp_prototype_directions();
  if (header.class_sum_directions() != directions) {
    return absl::FailedPreconditionError(absl::StrCat(
        "upload states a class-sum release of the ", header.class_sum_directions() ? "directions" : "sums-and-counts",
        " form (or none); round ", header.round(), " of this run takes ",
        directions ? "directions" : "no directions release"));
  }
  return absl::OkStatus();
}

absl::Status SecretShuffle(std::vector<std::string>* items) {
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  // Fisher-Yates with unbiased draws (rejection of the top partial range).
  for (size_t i = items->size(); i > 1; --i) {
    const uint64_t n = i;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r = sampler.NextUint64();
    while (r >= limit) r = sampler.NextUint64();
    std::swap((*items)[i - 1], (*items)[r % n]);
  }
  return absl::OkStatus();
}

absl::Status SampleRoundSites(const v1::RunPlan& plan, RoundRecord* record) {
  const double fraction = plan.sample_fraction() > 0 ? plan.sample_fraction() : 1.0;
  if (fraction >= 1.0) return absl::OkStatus();
  std::vector<std::string>& sites = record->participants;
  const size_t keep = std::max<size_t>(static_cast<size_t>(plan.min_sites()),
                                       static_cast<size_t>(std::ceil(fraction * static_cast<double>(sites.size()))));
  FEDLOG_RETURN_IF_ERROR(SecretShuffle(&sites));
  sites.resize(std::min(keep, sites.size()));
  std::sort(sites.begin(), sites.end());
  return absl::OkStatus();
}

absl::Status ValidateReportedEpsilon(double epsilon) {
  if (!(std::isfinite(epsilon) && epsilon >= 0 && epsilon <= kMaxReportedEpsilon)) {
    return absl::InvalidArgumentError(absl::StrCat("dp_epsilon must be a finite number in [0, ", kMaxReportedEpsilon,
                                                   "]"));
  }
  return absl::OkStatus();
}

std::string SanitiseDeclineReason(const std::string& reason) {
  if (reason.empty()) return "no reason given";
  return PrintableText(reason.substr(0, kMaxDeclineReason));
}

// --- Coordinator ---

bool Coordinator::ChargeRoundOrStop(const std::vector<RoundRecord>& rounds, size_t online, RoundRecord* record) {
  const v1::RunPlan& plan = run_->plan;
  if (!SiteLevelDp(plan)) return true;
  absl::StatusOr<privacy::PrivacyLedger> ledger = RunLedger(plan, rounds);
  const privacy::MechanismStep step = RoundStep(plan, record->participants.size(), online);
  absl::StatusOr<privacy::EpsilonAtOrder> after =
      ledger.ok() ? ledger->EpsilonIfCharged(step) : absl::StatusOr<privacy::EpsilonAtOrder>(ledger.status());
  if (!after.ok()) {
    FinishRun("failed", absl::StrCat("privacy accounting failed: ", after.status().message()));
    return false;
  }
  if (plan.target_epsilon() > 0 && after->epsilon > plan.target_epsilon()) {
    const std::string why = absl::StrFormat(
        "privacy budget spent: round %d would take epsilon from %.4f to %.4f, above the target %g (delta %g)",
        record->round, ledger->epsilon(), after->epsilon, plan.target_epsilon(), plan.dp_delta());
    // A run that could not afford even its first round has trained nothing worth promoting.
    FinishRun(run_->current_round > 0 ? "done" : "failed", why);
    return false;
  }
  record->dp_sampling_rate = step.sampling_rate;
  record->epsilon = after->epsilon;
  return true;
}

absl::Status Coordinator::DeclineRound(const std::string& site_id, const v1::DeclineRequest& request) {
  const std::string reason = SanitiseDeclineReason(request.reason());
  RoundRecord record;
  {
    absl::MutexLock lock(&mu_);
    if (revoked_.count(site_id)) return absl::PermissionDeniedError(absl::StrCat("site '", site_id, "' is revoked"));
    if (!run_ || run_->run_id != request.run_id() || !round_ || round_->record.round != request.round()) {
      return absl::FailedPreconditionError("no such open round");
    }
    const std::vector<std::string>& p = round_->record.participants;
    if (std::find(p.begin(), p.end(), site_id) == p.end()) {
      return absl::FailedPreconditionError("site is not a participant of this round");
    }
    last_seen_[site_id] = NowMs();  // a participant's decline: presence from accepted calls only
    if (round_->uploaded.count(site_id)) return absl::FailedPreconditionError("update already received");
    if (round_->declined.count(site_id)) return absl::OkStatus();
    record = round_->record;
    // Stored before it is acted on, once per site and round: a site asked again after a restart (Recover
    // restores the open round's declines; later attempts leave decliners out) is not counted twice.
    absl::StatusOr<bool> added = store_->AddDecline(site_id, record, reason, NowMs());
    if (!added.ok()) return ForSite(added.status(), site_id);
    round_->declined.insert(site_id);
    Bump();
    if (!*added) return absl::OkStatus();
  }
  FEDLOG_LOG(WARNING) << "site " << site_id << " declined run " << record.run_id << " round " << record.round
                      << " (attempt " << record.attempt << "): " << reason;
  return absl::OkStatus();
}

absl::Status Coordinator::DescribePrivacy(const std::vector<RoundRecord>& rounds, v1::RunStatus* status) {
  double spent = 0;
  for (const RoundRecord& r : rounds) spent = std::max(spent, r.epsilon);
  status->set_epsilon_spent(spent);
  FEDLOG_ASSIGN_OR_RETURN(std::vector<v1::SiteDeclines> declines, store_->ListDeclines(status->run_id()));
  int64_t total = 0;
  for (v1::SiteDeclines& d : declines) {
    total += d.count();
    *status->add_declines() = std::move(d);
  }
  status->set_declined_rounds(total);
  return absl::OkStatus();
}

}  // namespace fedlog::server
