// The simulation of `fedlog eval federated`: federated rounds over in-process sites (the daemon's
// model::RunSiteRound per site, common/fl aggregation), the centralized and local-only baselines
// with the same work, and every model's detector (model::BuildSiteDetector) scored on every site
// (eval_federated_site_scores.cc; the private federation and personalisation in
// eval_federated_private.cc; the shared pieces in eval_federated_sim.h).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/eval/threshold.h"
#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/few_shot.h"
#include "common/model/initial_model.h"
#include "common/model/line_input.h"
#include "common/model/personalise.h"
#include "common/model/site_round.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/release_shrink.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/eval_federated_sim.h"

namespace fedlog::offline {
namespace sim {

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Work of one site round; `scale` multiplies the steps (the centralized model does the work of
// every participant of the round).
model::LocalWork MakeWork(const FederatedOptions& o, uint64_t seed, int scale) {
  model::LocalWork work;
  work.contrastive_steps = o.contrastive_steps * scale;
  work.meta_iterations = o.meta_iterations * scale;
  work.inner_steps = o.inner_steps;
  work.batch_size = o.batch_size;
  work.fedprox_mu = o.fedprox_mu;
  work.jaccard_weight = o.jaccard_weight;
  work.runtime.threads = o.threads;
  work.runtime.seed = seed;
  return work;
}

uint64_t RoundSeed(const FederatedOptions& o, int round, size_t site) {
  return o.seed * 1000003ull + static_cast<uint64_t>(round) * 1009ull + site;
}

}  // namespace sim

namespace {

using sim::AddChoice;
using sim::Clock;
using sim::EvaluateSite;
using sim::LabelFreeAll;
using sim::LabelFreeSides;
using sim::MakeWork;
using sim::RoundSeed;
using sim::Since;

double LocalLoss(const model::SiteRoundResult& r, const std::string& key, double sent) {
  auto it = r.local_only.find(key);
  return it != r.local_only.end() ? it->second : sent;
}

// Line DP: a site's class-sum release leaves divided by its released weight, so the weighted mean is the pooled
// sum over the weights' sum (common/privacy/class_sums.h), as the daemon sends it. Under --secure-aggregation
// the daemon masks it, clamped to [-R, R] by the quantiser, and refuses to mask (false) when its weight cannot
// hold its noise share (privacy::CheckReleaseFitsRange).
absl::StatusOr<bool> ScaleRelease(const FederatedOptions& o, int64_t samples, int shares,
                                  fl::TensorBundle* weights) {
  for (fl::NamedTensor& t : weights->tensors) {
    if (t.name != fl::kReleasedPrototypesName) continue;
    FEDLOG_RETURN_IF_ERROR(privacy::ScaleToWeight(absl::MakeSpan(t.values), samples));
    if (!o.secure_aggregation) continue;
    const double share = privacy::ClassSumShareStddev(o.dp_prototype_noise, shares);
    if (!privacy::CheckReleaseFitsRange(o.secagg_clip_range, samples, o.dp_count_noise, share).ok()) {
      return false;
    }
    const float r = static_cast<float>(o.secagg_clip_range);
    for (float& v : t.values) v = std::clamp(v, -r, r);
  }
  return true;
}

// --dp-release-shrink: the pooled release's expected noise energy per row (privacy::PooledReleaseNoiseEnergy:
// every update that carried it added its share, and the pooled sum was divided by their weights' sum), attached
// to `global` for the detectors (model::BuildSiteDetector shrinks the decoded prototypes with it).
absl::Status AttachReleaseNoise(const FederatedOptions& o, int64_t dim, int shares,
                                const std::vector<SiteUpdate>& updates, fl::TensorBundle* global) {
  double weight = 0;
  for (const SiteUpdate& u : updates) weight += static_cast<double>(u.samples);
  FEDLOG_ASSIGN_OR_RETURN(double energy, privacy::PooledReleaseNoiseEnergy(o.dp_prototype_noise, shares,
                                                                           static_cast<int>(updates.size()), dim,
                                                                           weight));
  global->tensors.push_back(fl::NamedTensor{privacy::kReleaseNoiseName, {1}, {static_cast<float>(energy)}});
  std::cerr << absl::StrFormat("[federated_dp] release noise energy %.4g per row (%d updates, t %d, weight %.0f)\n",
                               energy, updates.size(), shares, weight);
  return absl::OkStatus();
}

// One stderr line per update of a round: its contribution's norm part by part, the bound and its scale.
void LogUpdateParts(const std::string& label, int round, const fl::ClipDecision& clip,
                    const std::vector<UpdatePartNorms>& parts) {
  for (const UpdatePartNorms& p : parts) {
    std::string fresh;
    for (const auto& [source, norm] : p.new_adapters) {
      absl::StrAppend(&fresh, fresh.empty() ? "" : ",", absl::StrFormat("%s=%.4f", source, norm));
    }
    std::cerr << absl::StrFormat("[%s] round %d update %s: norm %.4f, shared %.4f, known adapters %.4f, "
                                 "new adapters {%s}, reference %.4f, bound %.4f, scale %.4f\n",
                                 label, round, p.site, p.norm, p.shared, p.known_adapters, fresh, clip.reference,
                                 clip.bound, p.scale);
  }
}

}  // namespace

namespace sim {

absl::StatusOr<fl::TensorBundle> RunFederated(const std::vector<FederatedSite>& sites,
                                              const model::EncoderSpec& base,
                                              const fl::TensorBundle& initial,
                                              const FederatedOptions& o,
                                              std::vector<RoundLog>* rounds,
                                              DpFederation* dp) {
  const std::string label = dp != nullptr ? "federated_dp" : "federated";
  fl::TensorBundle global = initial;
  model::LineSet public_lines;  // ReleaseBasis's cache
  fl::ClipDecision clip;        // the previous round's, carried (the aggregator keeps it in the model's manifest)
  // Secure rounds bound each site's norm only through the norms sites state (common/secagg/norm_bound.h); sites
  // whose privacy policy wants DP, as these line-DP sites are taken to be, withhold theirs by default, so no bound.
  const double clip_multiple = dp != nullptr && o.secure_aggregation ? 0 : o.adaptive_clip_multiple;
  for (int r = 0; r < o.rounds; ++r) {
    const auto t0 = Clock::now();
    std::vector<model::SiteRoundResult> results;
    std::vector<size_t> who;
    int joined = 0;
    for (const FederatedSite& s : sites) joined += s.join_round <= r ? 1 : 0;
    const int shares = dp != nullptr ? dp->ReleaseShares(joined) : 1;
    std::optional<fl::NamedTensor> basis;
    if (dp != nullptr && dp->ReleasesPrototypes(r) && o.dp_release_subspace > 0) {
      FEDLOG_ASSIGN_OR_RETURN(basis, ReleaseBasis(sites, base, global, o, &public_lines));
    }
    for (size_t i = 0; i < sites.size(); ++i) {
      if (sites[i].join_round > r) continue;
      FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                              model::PrepareSiteWeights(base, global, sites[i].sources));
      if (basis.has_value()) start.tensors.push_back(*basis);
      model::LocalWork work = MakeWork(o, RoundSeed(o, r, i), 1);
      if (dp != nullptr) {
        work.line_dp = dp->LineDp();
        work.line_dp.release_prototypes = dp->ReleasesPrototypes(r);
        work.line_dp.prototype_noise_shares = shares;
      }
      FEDLOG_ASSIGN_OR_RETURN(
          model::SiteRoundResult res,
          model::RunSiteRound(model::SiteSpec(base, sites[i].sources), start, sites[i].train, {},
                              work));
      if (dp != nullptr) dp->RecordLineRound(i, res.line_dp_phases);
      results.push_back(std::move(res));
      who.push_back(i);
    }
    RoundLog log;
    log.round = r + 1;
    log.participants = static_cast<int>(results.size());
    std::vector<SiteUpdate> updates;
    int meta = 0;
    for (size_t j = 0; j < results.size(); ++j) {
      model::SiteRoundResult& res = results[j];
      int64_t samples = res.samples;  // under line DP, the noised count a site daemon releases
      if (dp != nullptr && o.dp_mode == "line") {
        FEDLOG_ASSIGN_OR_RETURN(samples, dp->NoisedCount(who[j], res.samples));
        FEDLOG_ASSIGN_OR_RETURN(bool masked, ScaleRelease(o, samples, shares, &res.weights));
        if (!masked) {
          std::cerr << absl::StrFormat("[%s] round %d: %s refuses to mask (its weight %d cannot hold the class-sum "
                                       "noise share)\n", label, r + 1, sites[who[j]].name, samples);
          continue;
        }
      }
      updates.push_back({&res.weights, samples, res.distinct_templates, res.imbalance_ratio,
                         sites[who[j]].sources, sites[who[j]].name});
      // Line DP keeps its losses out of the update; the simulation reads the site's local copy.
      const double contrastive = LocalLoss(res, "train_contrastive_loss", res.contrastive_loss);
      const double meta_loss = LocalLoss(res, "train_meta_loss", res.meta_loss);
      log.contrastive_loss += contrastive / static_cast<double>(results.size());
      if (meta_loss != 0) {
        log.meta_loss += meta_loss;
        ++meta;
      }
    }
    if (dp != nullptr && dp->ReleasesPrototypes(r) && static_cast<int>(updates.size()) < shares) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "round %d: %d sites masked, fewer than the threshold %d (a secure-aggregation round fails)", r + 1,
          updates.size(), shares));
    }
    if (meta > 0) log.meta_loss /= meta;
    if (dp != nullptr && o.dp_mode == "site") {
      FEDLOG_ASSIGN_OR_RETURN(global, dp->AggregateSiteDp(global, updates,
                                                          static_cast<int>(sites.size())));
    } else {
      std::vector<UpdatePartNorms> parts;
      FEDLOG_ASSIGN_OR_RETURN(global, AggregateRound(global, updates, o.strategy, &log.update_norm, clip_multiple,
                                                     &clip, &parts));
      log.clip_ratios = clip.ratios;
      log.clip_reference = clip.reference;
      log.clipped = clip.clipped;
      std::cerr << absl::StrFormat("[%s] round %d clip: reference %.6g, multiple %g, clipped %d, norm/reference %s\n",
                                   label, r + 1, clip.reference, clip_multiple, clip.clipped,
                                   absl::StrJoin(clip.ratios, ",", [](std::string* out, double v) {
                                     absl::StrAppend(out, absl::StrFormat("%.4f", v));
                                   }));
      LogUpdateParts(label, r + 1, clip, parts);
      if (dp != nullptr && dp->ReleasesPrototypes(r) && o.dp_release_shrink) {
        FEDLOG_RETURN_IF_ERROR(AttachReleaseNoise(o, base.out_dim, shares, updates, &global));
      }
    }
    log.seconds = Since(t0);
    std::cerr << absl::StrFormat(
        "[%s] round %d/%d: %d sites, contrastive loss %.4f, meta loss %.4f, "
        "|shared delta| %.4f, %.1fs\n",
        label, log.round, o.rounds, log.participants, log.contrastive_loss, log.meta_loss,
        log.update_norm, log.seconds);
    if (dp == nullptr) rounds->push_back(log);
  }
  return global;
}

}  // namespace sim

namespace {

// One model trained on `train` from `initial`, `scale[r]` times the site work in round r (0: no
// work; chained rounds: each starts from the previous one's weights, as a site's rounds do).
absl::StatusOr<fl::TensorBundle> RunChained(const model::EncoderSpec& base,
                                            const fl::TensorBundle& initial,
                                            const std::vector<std::string>& sources,
                                            const model::LineSet& train,
                                            const std::vector<int>& scale, size_t site_index,
                                            const std::string& label, const FederatedOptions& o) {
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle w, model::PrepareSiteWeights(base, initial, sources));
  const model::EncoderSpec spec = model::SiteSpec(base, sources);
  const int rounds = static_cast<int>(scale.size());
  for (int r = 0; r < rounds; ++r) {
    if (scale[static_cast<size_t>(r)] == 0) continue;
    FEDLOG_ASSIGN_OR_RETURN(model::SiteRoundResult res,
                            model::RunSiteRound(spec, w, train, {},
                                                MakeWork(o, RoundSeed(o, r, site_index),
                                                         scale[static_cast<size_t>(r)])));
    w = std::move(res.weights);
    std::cerr << absl::StrFormat("[%s] round %d/%d: contrastive loss %.4f, meta loss %.4f, %.1fs\n",
                                 label, r + 1, rounds, res.contrastive_loss, res.meta_loss,
                                 res.seconds);
  }
  return w;
}

absl::Status CheckSites(const std::vector<FederatedSite>& sites, const FederatedOptions& o) {
  if (sites.empty()) return absl::InvalidArgumentError("no sites");
  if (o.rounds < 1) return absl::InvalidArgumentError("--rounds must be >= 1");
  if (o.contrastive_steps < 0 || o.meta_iterations < 0 || o.batch_size < 2) {
    return absl::InvalidArgumentError("steps and iterations must be >= 0, batch size >= 2");
  }
  if (o.fedprox_mu < 0) return absl::InvalidArgumentError("--fedprox-mu must be >= 0");
  FEDLOG_RETURN_IF_ERROR(fl::ParseStrategy(o.strategy).status());
  for (const FederatedSite& s : sites) {
    if (s.train.size() < 2 || s.test.lines.size() == 0) {
      return absl::InvalidArgumentError(s.name + ": needs >= 2 training lines and a test part");
    }
    if (s.train.dense.cols != sites[0].train.dense.cols) {
      return absl::InvalidArgumentError(s.name + ": dense width differs from the other sites'");
    }
    if (s.train.labels.size() != static_cast<size_t>(s.train.size())) {
      return absl::InvalidArgumentError(s.name +
                                        ": training lines need one label each (-1 unlabeled)");
    }
  }
  return absl::OkStatus();
}

// The start of every model: the untrained weights of `base`, or options.initial_model checked against them.
absl::StatusOr<fl::TensorBundle> StartWeights(const model::EncoderSpec& base, const FederatedOptions& o,
                                              std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle untrained, model::InitialEncoderWeights(base));
  if (o.initial_model.empty()) return untrained;
  fl::UpdateCheckOptions schema;
  schema.out_dim = base.out_dim;
  schema.adapter_dim = base.adapter_dim;
  FEDLOG_ASSIGN_OR_RETURN(model::InitialModelFile start,
                          model::LoadInitialModel(o.initial_model, "", untrained, schema));
  notes->push_back(absl::StrCat("every model starts from --initial-model ", o.initial_model, " (sha256 ",
                                start.sha256, ", ",
                                start.weights.Find("prototypes.global") != nullptr ? "with" : "without",
                                " prototypes.global)"));
  std::cerr << notes->back() << "\n";
  return std::move(start.weights);
}

}  // namespace

absl::StatusOr<FederatedResult> RunFederatedSimulation(const std::vector<FederatedSite>& sites,
                                                       const FederatedOptions& o) {
  FEDLOG_RETURN_IF_ERROR(CheckSites(sites, o));
  const auto t0 = Clock::now();
  model::EncoderSpec base = model::DefaultEncoderSpec(static_cast<int>(sites[0].train.dense.cols));
  base.init_seed = o.seed;
  FederatedResult result;
  FEDLOG_ASSIGN_OR_RETURN(const fl::TensorBundle initial, StartWeights(base, o, &result.notes));
  if (o.dp_private_only && (o.dp_mode.empty() || o.run_centralized || o.run_local)) {
    return absl::InvalidArgumentError("--dp-private-only needs --dp-mode and --no-baselines");
  }
  FEDLOG_ASSIGN_OR_RETURN(const LabelFreeSides free, LabelFreeAll(sites, o, &result));
  if (!o.dp_private_only) {
    FEDLOG_ASSIGN_OR_RETURN(result.federated_model,
                            sim::RunFederated(sites, base, initial, o, &result.rounds));
    for (size_t i = 0; i < sites.size(); ++i) {
      FEDLOG_ASSIGN_OR_RETURN(SiteEvaluation e,
                              EvaluateSite(base, result.federated_model, sites[i], "federated", o));
      result.evaluations.push_back(e);
      FEDLOG_RETURN_IF_ERROR(
          AddChoice(base, result.federated_model, sites[i], free[i], &e, "choice", o, &result));
    }
  }
  if (!o.dp_mode.empty()) {
    FEDLOG_RETURN_IF_ERROR(sim::RunPrivateFederation(sites, base, initial, o, free, &result));
  }
  if (o.personalise_rounds > 0) {
    if (!o.dp_private_only) {
      FEDLOG_RETURN_IF_ERROR(sim::PersonaliseAll(sites, base, result.federated_model, "", o, free, &result));
    }
    if (!o.dp_mode.empty()) {
      FEDLOG_RETURN_IF_ERROR(
          sim::PersonaliseAll(sites, base, result.federated_dp_model, "_dp", o, free, &result));
    }
    result.notes.push_back(absl::StrCat(
        "local-only models get ", o.personalise_rounds,
        " extra rounds, the same local work as the personalised sites"));
  }
  if (o.run_centralized) {
    // Every site's training lines pooled (a late joiner's too, from round 0), each round doing the
    // work of that round's federated participants.
    model::LineSet pooled;
    std::vector<std::string> sources;
    for (const FederatedSite& s : sites) {
      model::AppendLineSet(s.train, &pooled);
      for (const std::string& src : s.sources) {
        if (std::find(sources.begin(), sources.end(), src) == sources.end()) sources.push_back(src);
      }
    }
    std::vector<int> scale;
    for (const RoundLog& r : result.rounds) scale.push_back(r.participants);
    FEDLOG_ASSIGN_OR_RETURN(
        fl::TensorBundle central,
        RunChained(base, initial, sources, pooled, scale, sites.size(), "centralized", o));
    for (const FederatedSite& s : sites) {
      FEDLOG_ASSIGN_OR_RETURN(SiteEvaluation e, EvaluateSite(base, central, s, "centralized", o));
      result.evaluations.push_back(e);
    }
    result.notes.push_back(absl::StrCat("centralized: ", pooled.size(), " pooled training lines, ",
                                        sources.size(), " adapters"));
  }
  if (o.run_local) {
    for (size_t i = 0; i < sites.size(); ++i) {
      // The rounds it takes part in, plus the personalisation rounds a federated site adds.
      std::vector<int> scale(static_cast<size_t>(o.rounds + o.personalise_rounds), 0);
      for (size_t r = static_cast<size_t>(sites[i].join_round); r < scale.size(); ++r) scale[r] = 1;
      FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle local,
                              RunChained(base, initial, sites[i].sources, sites[i].train, scale, i,
                                         "local " + sites[i].name, o));
      FEDLOG_ASSIGN_OR_RETURN(SiteEvaluation e, EvaluateSite(base, local, sites[i], "local", o));
      result.evaluations.push_back(e);
    }
  }
  result.seconds = Since(t0);
  return result;
}

}  // namespace fedlog::offline
