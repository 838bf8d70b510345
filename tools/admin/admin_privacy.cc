#include "tools/admin/admin_privacy.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/line_count.h"

namespace fedlog::cli {
namespace {

// Site-supplied text as printed: no terminal control bytes.
std::string Printable(const std::string& text) {
  std::string out = text.substr(0, 256);
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return out;
}

// --dp-prototype-noise S, or --dp-prototype-share F with --target-epsilon E (the smallest S at which the one
// release alone spends F * E at the plan's delta): line DP's class-sum release (common/privacy/class_sums.h).
// Its form is directions (sums only, sensitivity 1) unless --dp-prototype-counts asks for sums and counts.
absl::Status SetClassSumRelease(const Args& args, v1::RunPlan* plan) {
  if (args.Has("dp-prototype-noise") && args.Has("dp-prototype-share")) {
    return absl::InvalidArgumentError("give --dp-prototype-noise or --dp-prototype-share, not both");
  }
  const bool release = args.Has("dp-prototype-noise") || args.Has("dp-prototype-share");
  if (args.Has("dp-prototype-counts") && !release) {
    return absl::InvalidArgumentError("--dp-prototype-counts needs --dp-prototype-noise or --dp-prototype-share");
  }
  const bool directions = release && !args.Has("dp-prototype-counts");
  plan->set_line_dp_prototype_directions(directions);
  const privacy::ClassSumForm form =
      directions ? privacy::ClassSumForm::kDirections : privacy::ClassSumForm::kSumsAndCounts;
  if (args.Has("dp-prototype-noise")) {
    FEDLOG_ASSIGN_OR_RETURN(double s, args.GetDouble("dp-prototype-noise", 0));
    if (!privacy::IsValidClassSumNoise(s)) {
      return absl::InvalidArgumentError(absl::StrCat("--dp-prototype-noise must be in [", privacy::kMinClassSumNoise,
                                                     ", ", privacy::kMaxClassSumNoise, "]"));
    }
    plan->set_line_dp_prototype_noise(s);
    return absl::OkStatus();
  }
  if (!args.Has("dp-prototype-share")) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(double share, args.GetDouble("dp-prototype-share", privacy::kDefaultClassSumShare));
  if (!(share > 0 && share < 1) || !(plan->target_epsilon() > 0)) {
    return absl::InvalidArgumentError("--dp-prototype-share F needs F in (0, 1) and --target-epsilon");
  }
  FEDLOG_ASSIGN_OR_RETURN(double s,
                          privacy::ClassSumNoiseForShare(plan->target_epsilon(), share, 1, plan->dp_delta(), form));
  plan->set_line_dp_prototype_noise(s);
  plan->set_line_dp_prototype_share(share);
  return absl::OkStatus();
}

// --dp-objective, --dp-contrastive, --dp-anomalous-rate, --dp-normal-lines, --dp-scope, --dp-count-noise,
// --dp-prototype-noise, --dp-prototype-share, --dp-prototype-counts: line mode only. Line mode always gets a
// count noise (default 100), so the plan shows what the sites will use.
absl::Status SetLineDpFlags(const Args& args, v1::RunPlan* plan) {
  const bool any = args.Has("dp-objective") || args.Has("dp-contrastive") || args.Has("dp-anomalous-rate") ||
                   args.Has("dp-normal-lines") || args.Has("dp-scope") || args.Has("dp-count-noise");
  const bool release =
      args.Has("dp-prototype-noise") || args.Has("dp-prototype-share") || args.Has("dp-prototype-counts");
  if ((any || release) && plan->dp_mode() != "line") {
    return absl::InvalidArgumentError(
        "--dp-objective, --dp-contrastive, --dp-anomalous-rate, --dp-normal-lines, --dp-scope, --dp-count-noise, "
        "--dp-prototype-noise, --dp-prototype-share and --dp-prototype-counts need "
        "--dp-mode line");
  }
  if (plan->dp_mode() != "line") return absl::OkStatus();
  FEDLOG_RETURN_IF_ERROR(SetClassSumRelease(args, plan));
  FEDLOG_ASSIGN_OR_RETURN(double count_noise, args.GetDouble("dp-count-noise", privacy::kDefaultLineCountNoise));
  if (!privacy::IsValidLineCountNoise(count_noise)) {
    return absl::InvalidArgumentError(absl::StrCat("--dp-count-noise must be in [", privacy::kMinLineCountNoise, ", ",
                                                   privacy::kMaxLineCountNoise, "]"));
  }
  plan->set_line_dp_count_noise(count_noise);
  if (!any) return absl::OkStatus();
  const std::string scope = args.Get("dp-scope", "adapters");
  if (scope != "adapters" && scope != "all") return absl::InvalidArgumentError("--dp-scope must be adapters or all");
  plan->set_line_dp_scope(scope);
  const std::string objective = args.Get("dp-objective", "per_line");
  if (objective != "per_line" && objective != "episodes") {
    return absl::InvalidArgumentError("--dp-objective must be per_line or episodes");
  }
  FEDLOG_ASSIGN_OR_RETURN(double rate, args.GetDouble("dp-anomalous-rate", 1.0));
  FEDLOG_ASSIGN_OR_RETURN(int64_t normal, args.GetInt("dp-normal-lines", 64));
  if (!(rate > 0 && rate <= 1)) return absl::InvalidArgumentError("--dp-anomalous-rate must be in (0, 1]");
  if (normal < 1 || normal > (1 << 20)) return absl::InvalidArgumentError("--dp-normal-lines must be in 1..1048576");
  plan->set_line_dp_objective(objective);
  plan->set_line_dp_contrastive(args.Has("dp-contrastive"));
  plan->set_line_dp_anomalous_rate(rate);
  plan->set_line_dp_normal_lines(static_cast<int32_t>(normal));
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> PrivacyOptionNames() {
  return {"dp-noise-multiplier", "dp-clip", "dp-delta", "target-epsilon", "dp-mode", "dp-objective",
          "dp-anomalous-rate", "dp-normal-lines", "dp-scope", "dp-count-noise", "dp-prototype-noise",
          "dp-prototype-share"};
}

std::vector<std::string> PrivacyFlagNames() { return {"dp-contrastive", "dp-prototype-counts"}; }

absl::Status SetPrivacyFlags(const Args& args, v1::RunPlan* plan) {
  bool any = args.Has("dp-mode");
  for (const char* name : {"dp-noise-multiplier", "dp-clip", "dp-delta", "target-epsilon"}) {
    any = any || args.Has(name);
  }
  if (!any) return absl::OkStatus();
  const std::string mode = args.Get("dp-mode", "site");
  if (mode != "site" && mode != "line") return absl::InvalidArgumentError("--dp-mode must be site or line");
  FEDLOG_ASSIGN_OR_RETURN(double sigma, args.GetDouble("dp-noise-multiplier", 0));
  FEDLOG_ASSIGN_OR_RETURN(double clip, args.GetDouble("dp-clip", 0));
  FEDLOG_ASSIGN_OR_RETURN(double delta, args.GetDouble("dp-delta", 1e-5));
  FEDLOG_ASSIGN_OR_RETURN(double target, args.GetDouble("target-epsilon", 0));
  if (!(std::isfinite(sigma) && sigma > 0)) {
    return absl::InvalidArgumentError("--dp-noise-multiplier S is required with differential privacy (S > 0)");
  }
  if (!(std::isfinite(clip) && clip > 0)) {
    return absl::InvalidArgumentError("--dp-clip C is required with differential privacy (C > 0)");
  }
  if (!(delta > 0 && delta < 1)) return absl::InvalidArgumentError("--dp-delta must be in (0, 1)");
  if (!(std::isfinite(target) && target >= 0)) {
    return absl::InvalidArgumentError("--target-epsilon must be a finite number >= 0 (0 = no target)");
  }
  plan->set_dp_mode(mode);
  plan->set_dp_noise_multiplier(sigma);
  plan->set_dp_clip(clip);
  plan->set_dp_delta(delta);
  plan->set_target_epsilon(target);
  return SetLineDpFlags(args, plan);
}

std::string PrivacyColumnHeader(const v1::RunPlan& plan) {
  if (plan.dp_mode() == "site") return absl::StrFormat(" %9s %5s", "epsilon", "q");
  if (plan.dp_mode() == "line") return absl::StrFormat(" %9s", "site_eps");
  return "";
}

std::string PrivacyColumn(const v1::RunPlan& plan, const v1::RoundSummary& r) {
  if (plan.dp_mode() == "site") return absl::StrFormat(" %9.4f %5.2f", r.epsilon(), r.dp_sampling_rate());
  if (plan.dp_mode() == "line") {
    return r.site_epsilon() > 0 ? absl::StrFormat(" %9.4f", r.site_epsilon()) : absl::StrFormat(" %9s", "-");
  }
  return "";
}

std::string PrivacySummary(const v1::RunStatus& s) {
  const v1::RunPlan& p = s.plan();
  std::string out;
  if (!p.dp_mode().empty()) {
    out = absl::StrFormat("privacy: %s-level DP, noise multiplier %g, clip %g, delta %g", p.dp_mode(),
                          p.dp_noise_multiplier(), p.dp_clip(), p.dp_delta());
    if (p.dp_mode() == "line") {
      absl::StrAppendFormat(&out, ", line-count noise %g",
                            privacy::EffectiveLineCountNoise(p.line_dp_count_noise()));
      if (p.line_dp_prototype_noise() > 0) {
        absl::StrAppendFormat(&out, ", class sums%s released in round %d with noise %g",
                              p.line_dp_prototype_directions() ? "" : " and counts", p.rounds(),
                              p.line_dp_prototype_noise());
        // Under secure aggregation the release is masked and its noise distributed (docs/PRIVACY.md).
        if (p.secure_aggregation()) absl::StrAppend(&out, " (masked: each site adds s^2/t of it, t the threshold)");
      }
    }
    if (p.dp_mode() == "site") {
      absl::StrAppendFormat(&out, "; epsilon spent %.4f", s.epsilon_spent());
      if (p.target_epsilon() > 0) absl::StrAppendFormat(&out, " of target %g", p.target_epsilon());
    }
  }
  if (p.secure_aggregation()) absl::StrAppend(&out, out.empty() ? "privacy: " : "; ", "secure aggregation");
  if (s.declined_rounds() > 0) {
    absl::StrAppend(&out, out.empty() ? "privacy: " : "; ", s.declined_rounds(), " round(s) declined by sites");
  }
  return out;
}

std::vector<std::string> DeclineLines(const v1::RunStatus& s) {
  std::vector<std::string> out;
  for (const v1::SiteDeclines& d : s.declines()) {
    out.push_back(absl::StrFormat("  declined: %s x%d (last: %s)", Printable(d.site_id()), d.count(),
                                  Printable(d.last_reason())));
  }
  return out;
}

int64_t DeclinesOf(const v1::RunStatus& s, const std::string& site_id) {
  for (const v1::SiteDeclines& d : s.declines()) {
    if (d.site_id() == site_id) return d.count();
  }
  return 0;
}

}  // namespace fedlog::cli
