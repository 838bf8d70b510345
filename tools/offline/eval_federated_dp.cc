// Differential privacy in `fedlog eval federated` (eval_federated.h): the dp_* options, the
// per-site ledger of line-level DP-SGD, and site-level DP's clipped, noised, unweighted mean.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/fl/strategy.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/line_count.h"
#include "common/privacy/site_dp.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline {
namespace {

// The line-DP mechanisms one site runs over the whole run (sigma left 0), as RunSiteRound runs
// them (model::PlanLineDpRound) in every round it takes part in.
std::vector<model::LineDpPhase> PlannedPhases(const FederatedSite& site, const FederatedOptions& o,
                                              const model::LineDpOptions& dp) {
  const int rounds = o.rounds - std::min(o.rounds, site.join_round);
  std::vector<int> labeled;
  for (int y : site.train.labels) {
    if (y >= 0) labeled.push_back(y);
  }
  std::vector<model::LineDpPhase> phases = model::PlanLineDpRound(
      dp, o.contrastive_steps, o.meta_iterations, o.batch_size, site.train.size(),
      static_cast<int64_t>(labeled.size()), model::HasBothClasses(labeled));
  for (model::LineDpPhase& p : phases) p.steps *= rounds;
  return phases;
}

privacy::ClassSumForm ReleaseForm(const FederatedOptions& o) {
  return o.dp_prototype_counts ? privacy::ClassSumForm::kSumsAndCounts : privacy::ClassSumForm::kDirections;
}

// The release of a site's class sums: one Gaussian step (q = 1) in the final round, if it takes part.
std::vector<model::LineDpPhase> ReleasePhases(const FederatedSite& site, const FederatedOptions& o) {
  if (!(o.dp_prototype_noise > 0) || site.join_round >= o.rounds) return {};
  const privacy::MechanismStep step = privacy::ClassSumStep(o.dp_prototype_noise, ReleaseForm(o));
  return {{"prototypes", step.sampling_rate, step.noise_multiplier, step.steps}};
}

// The releases of a site's noised line count over the whole run: one Gaussian step (q = 1) per round.
model::LineDpPhase CountPhase(const FederatedSite& site, const FederatedOptions& o) {
  const privacy::MechanismStep step = privacy::LineCountStep(o.dp_count_noise);
  return {"count", step.sampling_rate, step.noise_multiplier,
          step.steps * (o.rounds - std::min(o.rounds, site.join_round))};
}

// The smallest sigma (from `sigma` up, by 0.1%) at which `phases` together with the `fixed` ones (the count's
// and the class sums' releases, each with its own noise) reach at most `target`: NoiseMultiplierForEpsilon sets
// every phase's sigma, so the fixed ones are added here.
absl::StatusOr<double> SigmaWithFixed(std::vector<model::LineDpPhase> phases,
                                      const std::vector<model::LineDpPhase>& fixed, double sigma, double target,
                                      double delta) {
  for (int i = 0; i < 10000; ++i, sigma *= 1.001) {
    std::vector<model::LineDpPhase> all = phases;
    for (model::LineDpPhase& p : all) p.sigma = sigma;
    all.insert(all.end(), fixed.begin(), fixed.end());
    FEDLOG_ASSIGN_OR_RETURN(double eps, model::LineDpEpsilon(all, delta));
    if (eps <= target) return sigma;
  }
  return absl::InvalidArgumentError(
      "--target-epsilon cannot be met with the line count's and the class sums' noise");
}

}  // namespace

model::LineDpOptions LineDpOf(const FederatedOptions& o) {
  model::LineDpOptions dp;
  dp.noise_multiplier = o.dp_noise_multiplier;
  dp.clip = o.dp_clip;
  dp.delta = o.dp_delta;
  dp.train_embedding = o.dp_train_embedding;
  dp.encoder_lr_ratio = o.dp_encoder_lr_ratio;
  dp.labeled_objective = o.dp_objective;
  dp.contrastive = o.dp_contrastive;
  dp.anomalous_rate = o.dp_anomalous_rate;
  dp.normal_lines_per_step = o.dp_normal_lines;
  dp.scope = o.dp_scope;
  dp.prototype_noise = o.dp_prototype_noise;
  dp.prototype_directions = !o.dp_prototype_counts;
  return dp;
}

std::string ParameterMovement(const std::string& label, const fl::TensorBundle& start,
                              const fl::TensorBundle& model) {
  const char* kGroups[] = {"embed", "encoder", "adapters", "head"};
  double moved[4] = {0, 0, 0, 0}, size[4] = {0, 0, 0, 0};
  for (const fl::NamedTensor& t : model.tensors) {
    const fl::NamedTensor* s = start.Find(t.name);
    if (s == nullptr || s->values.size() != t.values.size() ||
        t.name.find("prototypes") != std::string::npos) {
      continue;
    }
    int g = 1;
    if (t.name == "embed.weight") g = 0;
    if (absl::StartsWith(t.name, "adapter.")) g = 2;
    if (absl::StartsWith(t.name, "head.")) g = 3;
    for (size_t i = 0; i < t.values.size(); ++i) {
      const double d = static_cast<double>(t.values[i]) - s->values[i];
      moved[g] += d * d;
      size[g] += static_cast<double>(s->values[i]) * s->values[i];
    }
  }
  std::string out = label + ": |w - w0| (|w0|)";
  for (int g = 0; g < 4; ++g) {
    absl::StrAppend(&out, g == 0 ? " " : ", ", kGroups[g],
                    absl::StrFormat(" %.4g (%.4g)", std::sqrt(moved[g]), std::sqrt(size[g])));
  }
  return out;
}

absl::Status ResolveDpOptions(const std::vector<FederatedSite>& sites, FederatedOptions* o) {
  if (o->dp_mode.empty() && !o->secure_aggregation) return absl::OkStatus();
  if (o->secure_aggregation && o->dp_mode != "line") {
    return absl::InvalidArgumentError(
        "--secure-aggregation simulates the class-sum release's distributed noise: it needs --dp-mode line");
  }
  if (o->dp_mode != "line" && o->dp_mode != "site") {
    return absl::InvalidArgumentError("--dp-mode must be line or site");
  }
  if (!(o->dp_clip > 0) || !std::isfinite(o->dp_clip) || !(o->dp_delta > 0 && o->dp_delta < 1) ||
      !(o->dp_noise_multiplier >= 0) || !std::isfinite(o->dp_noise_multiplier) ||
      !(o->target_epsilon >= 0) || !std::isfinite(o->target_epsilon) ||
      !(o->dp_encoder_lr_ratio > 0) || !std::isfinite(o->dp_encoder_lr_ratio)) {
    return absl::InvalidArgumentError(
        "--dp-clip must be > 0, --dp-delta in (0, 1), --dp-noise-multiplier and "
        "--target-epsilon >= 0, --dp-encoder-lr-ratio > 0");
  }
  if (!(o->dp_prototype_share >= 0 && o->dp_prototype_share < 1) || !(o->dp_prototype_noise >= 0)) {
    return absl::InvalidArgumentError("--dp-prototype-share must be in [0, 1), --dp-prototype-noise >= 0");
  }
  if (o->dp_prototype_share > 0 && o->dp_prototype_noise == 0 && !(o->target_epsilon > 0)) {
    return absl::InvalidArgumentError("--dp-prototype-share needs --target-epsilon (or give --dp-prototype-noise)");
  }
  if (o->target_epsilon > 0) {
    if (o->dp_mode != "line") {
      return absl::InvalidArgumentError("--target-epsilon applies to --dp-mode line");
    }
    if (o->dp_prototype_noise == 0 && o->dp_prototype_share > 0) {
      // One release per site (the final round): its noise spends the share of the target on its own.
      FEDLOG_ASSIGN_OR_RETURN(o->dp_prototype_noise,
                              privacy::ClassSumNoiseForShare(o->target_epsilon, o->dp_prototype_share, 1,
                                                             o->dp_delta, ReleaseForm(*o)));
    }
    double sigma = 0;
    for (const FederatedSite& s : sites) {
      std::vector<model::LineDpPhase> phases = PlannedPhases(s, *o, LineDpOf(*o));
      if (phases.empty()) continue;
      std::vector<model::LineDpPhase> fixed = ReleasePhases(s, *o);
      fixed.push_back(CountPhase(s, *o));
      FEDLOG_ASSIGN_OR_RETURN(double site_sigma, model::NoiseMultiplierForEpsilon(
                                                     phases, o->target_epsilon, o->dp_delta));
      FEDLOG_ASSIGN_OR_RETURN(site_sigma,
                              SigmaWithFixed(phases, fixed, site_sigma, o->target_epsilon, o->dp_delta));
      sigma = std::max(sigma, site_sigma);
    }
    o->dp_noise_multiplier = sigma;
  }
  if (!(o->dp_noise_multiplier > 0)) {
    return absl::InvalidArgumentError("a DP mode needs --dp-noise-multiplier or --target-epsilon");
  }
  if (o->dp_prototype_counts && !(o->dp_prototype_noise > 0)) {
    return absl::InvalidArgumentError("--dp-prototype-counts needs --dp-prototype-noise or --dp-prototype-share");
  }
  if (o->dp_mode != "line" && o->dp_prototype_noise != 0) {
    return absl::InvalidArgumentError("--dp-prototype-noise applies to --dp-mode line");
  }
  if (o->dp_prototype_noise != 0 && !privacy::IsValidClassSumNoise(o->dp_prototype_noise)) {
    return absl::InvalidArgumentError("--dp-prototype-noise must be in [0.01, 1e6]");
  }
  if (o->secure_aggregation) {
    if (o->dp_mode != "line" || !(o->dp_prototype_noise > 0)) {
      return absl::InvalidArgumentError(
          "--secure-aggregation simulates the class-sum release's distributed noise: it needs --dp-mode line and "
          "--dp-prototype-noise or --dp-prototype-share");
    }
    if (o->secagg_threshold != 0 && (o->secagg_threshold < 2 || o->secagg_threshold > static_cast<int>(sites.size()))) {
      return absl::InvalidArgumentError("--secagg-threshold must be in [2, sites]");
    }
    if (!(o->secagg_clip_range >= 1 && o->secagg_clip_range <= 1e6)) {
      return absl::InvalidArgumentError("--secagg-clip-range must be in [1, 1e6]");
    }
  }
  return absl::OkStatus();
}

DpFederation::DpFederation(const FederatedOptions& options, size_t sites)
    : options_(options), site_phases_(sites) {}

model::LineDpOptions DpFederation::LineDp() const {
  if (options_.dp_mode != "line") return model::LineDpOptions();
  return LineDpOf(options_);
}

void DpFederation::RecordLineRound(size_t site, const std::vector<model::LineDpPhase>& phases) {
  site_phases_[site].insert(site_phases_[site].end(), phases.begin(), phases.end());
}

absl::StatusOr<int64_t> DpFederation::NoisedCount(size_t site, int64_t count) {
  if (!sampler_) {
    FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
    sampler_ = std::make_unique<privacy::GaussianSampler>(std::move(sampler));
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t noised, privacy::NoisedLineCount(count, options_.dp_count_noise,
                                                                   fl::kMaxUpdateSamples, *sampler_));
  const privacy::MechanismStep step = privacy::LineCountStep(options_.dp_count_noise);
  site_phases_[site].push_back({"count", step.sampling_rate, step.noise_multiplier, step.steps});
  return noised;
}

bool DpFederation::ReleasesPrototypes(int round) const {
  return options_.dp_mode == "line" && options_.dp_prototype_noise > 0 && round == options_.rounds - 1;
}

int DpFederation::ReleaseShares(int participants) const {
  if (!options_.secure_aggregation) return 1;
  return options_.secagg_threshold > 0 ? options_.secagg_threshold : std::max(2, participants / 2 + 1);
}

absl::StatusOr<fl::TensorBundle> DpFederation::AggregateSiteDp(
    const fl::TensorBundle& global, const std::vector<SiteUpdate>& updates, int total_sites) {
  if (updates.empty()) return global;
  privacy::SiteDpOptions dp;
  dp.clip = options_.dp_clip;
  dp.noise_multiplier = options_.dp_noise_multiplier;
  dp.min_sites = static_cast<int>(updates.size());
  FEDLOG_RETURN_IF_ERROR(privacy::ValidateSiteDpOptions(dp));
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  // Every tensor any update or the global model carries; one missing from an update has delta 0
  // there (a tensor the global model lacks starts from 0, as AggregateRound's full-value rule).
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const fl::NamedTensor& t : global.tensors) shapes[t.name] = t.shape;
  for (const SiteUpdate& u : updates) {
    for (const fl::NamedTensor& t : u.weights->tensors) shapes.emplace(t.name, t.shape);
  }
  std::map<std::string, std::vector<float>> mean;
  for (const SiteUpdate& u : updates) {
    std::vector<float> flat;
    for (const auto& [name, shape] : shapes) {
      const fl::NamedTensor* base = global.Find(name);
      const fl::NamedTensor* mine = u.weights->Find(name);
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      if ((mine != nullptr && static_cast<int64_t>(mine->values.size()) != n) ||
          (base != nullptr && static_cast<int64_t>(base->values.size()) != n)) {
        return absl::InvalidArgumentError(
            absl::StrCat("site DP: tensor ", name, " differs in size"));
      }
      for (int64_t i = 0; i < n; ++i) {
        const float b = base != nullptr ? base->values[i] : 0.0f;
        flat.push_back(mine != nullptr ? mine->values[i] - b : 0.0f);
      }
    }
    FEDLOG_RETURN_IF_ERROR(
        privacy::ClipAndAddNoiseShare(absl::MakeSpan(flat), dp, sampler).status());
    size_t at = 0;
    for (const auto& [name, shape] : shapes) {
      std::vector<float>& m = mean[name];
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      m.resize(static_cast<size_t>(n), 0.0f);
      for (int64_t i = 0; i < n; ++i) m[i] += flat[at++] / static_cast<float>(updates.size());
    }
  }
  fl::TensorBundle next;
  for (const auto& [name, shape] : shapes) {
    fl::NamedTensor t{name, shape, mean[name]};
    if (const fl::NamedTensor* base = global.Find(name)) {
      for (size_t i = 0; i < t.values.size(); ++i) t.values[i] += base->values[i];
    }
    next.tensors.push_back(std::move(t));
  }
  // Every site takes part in every round it has joined (no random sampling of sites), so no
  // amplification: q = 1.
  (void)total_sites;
  site_rounds_.push_back({"site", 1.0, options_.dp_noise_multiplier, 1});
  return next;
}

absl::StatusOr<double> DpFederation::Epsilon() const {
  if (options_.dp_mode == "site") return model::LineDpEpsilon(site_rounds_, options_.dp_delta);
  double worst = 0;
  for (const auto& phases : site_phases_) {
    FEDLOG_ASSIGN_OR_RETURN(double eps, model::LineDpEpsilon(phases, options_.dp_delta));
    worst = std::max(worst, eps);
  }
  return worst;
}

}  // namespace fedlog::offline
