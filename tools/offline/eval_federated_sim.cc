// The simulation of `fedlog eval federated`: federated rounds over in-process sites (the daemon's
// model::RunSiteRound per site, common/fl aggregation), the centralized and local-only baselines
// with the same work, and every model's detector (model::BuildSiteDetector) scored on every site.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
#include "tools/offline/eval_federated.h"

namespace fedlog::offline {
namespace {

using Clock = std::chrono::steady_clock;

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

// Scores of the scoring units of `part` from its line scores: a session's score is the maximum of
// its lines' scores (a block is as anomalous as its most anomalous line).
void UnitScores(const SitePart& part, const std::vector<float>& line_scores,
                std::vector<int>* labels, std::vector<double>* scores) {
  labels->clear();
  scores->clear();
  if (part.units.empty()) {
    for (size_t i = 0; i < line_scores.size(); ++i) {
      labels->push_back(part.lines.labels[i] > 0 ? 1 : 0);
      scores->push_back(line_scores[i]);
    }
    return;
  }
  for (size_t u = 0; u < part.units.size(); ++u) {
    double best = 0;
    for (int64_t r : part.units[u])
      best = std::max(best, double{line_scores[static_cast<size_t>(r)]});
    labels->push_back(part.unit_labels[u]);
    scores->push_back(best);
  }
}

// How a site's detector is adapted.
model::AdaptOptions SiteAdapt(const FederatedSite& site, const FederatedOptions& o) {
  model::AdaptOptions adapt;
  adapt.runtime.threads = o.threads;
  adapt.runtime.seed = o.seed;
  // Sessions take their threshold from block maxima, so line calibration adds nothing there, and a
  // Platt fit on lines saturated every HDFS line's probability to 0 (no block ranking left).
  adapt.calibrate = site.test.units.empty();
  // Lines: every support line is a prototype (a site's support mixes several sources, whose class
  // means say little); sessions keep one mean per class, ranked by block maxima.
  adapt.prototypes = site.test.units.empty() ? model::PrototypeMode::kNearestSupport
                                             : model::PrototypeMode::kClassMean;
  return adapt;
}

// The site's detector (model::BuildSiteDetector with every adapter of the site, as the site
// trainer builds it, client/site_trainer.cc) from its support lines, calibrated and thresholded on
// its validation part, scored on its test units.
absl::StatusOr<SiteEvaluation> EvaluateSite(const model::EncoderSpec& base,
                                            const fl::TensorBundle& weights,
                                            const FederatedSite& site, const std::string& name,
                                            const FederatedOptions& o) {
  const model::EncoderSpec spec = model::SiteSpec(base, site.sources);
  const model::AdaptOptions adapt = SiteAdapt(site, o);
  // A held-out site's only labels are its support lines: with nearest-support prototypes Adapt
  // calibrates on their leave-one-out scores when it gets no separate validation set.
  const model::LineSet none;
  const bool loo = adapt.prototypes == model::PrototypeMode::kNearestSupport && !site.labeled;
  FEDLOG_ASSIGN_OR_RETURN(
      model::FewShotModel detector,
      model::BuildSiteDetector(spec, weights, site.support, loo ? none : site.validation.lines,
                               adapt));
  SiteEvaluation e;
  e.model = name;
  e.site = site.name;
  e.held_out = !site.labeled;
  e.threshold = detector.threshold;
  std::vector<int> labels;
  std::vector<double> scores;
  if (!site.test.units.empty() && site.validation.lines.size() > 0) {
    // Sessions: the line threshold does not apply to block maxima; pick the block-level max-F1
    // threshold on the validation blocks instead.
    FEDLOG_ASSIGN_OR_RETURN(
        std::vector<float> val,
        model::ScoreFewShot(spec, detector, site.validation.lines, adapt.runtime));
    UnitScores(site.validation, val, &labels, &scores);
    FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice t, eval::SelectThresholdMaxF1(labels, scores));
    e.threshold = t.threshold;
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> test,
                          model::ScoreFewShot(spec, detector, site.test.lines, adapt.runtime));
  UnitScores(site.test, test, &labels, &scores);
  e.units = static_cast<int64_t>(labels.size());
  e.anomalous_units = std::count(labels.begin(), labels.end(), 1);
  FEDLOG_ASSIGN_OR_RETURN(e.metrics, eval::EvaluateScores(labels, scores, e.threshold));
  std::cerr << absl::StrFormat(
      "[%s] %s: F1 %.3f, F1-macro %.3f, AUROC %.3f on %d %s (%d anomalous)\n", name, site.name,
      e.metrics.f1, e.metrics.f1_macro, e.metrics.auroc, e.units,
      site.test.units.empty() ? "lines" : "blocks", e.anomalous_units);
  return e;
}

// Per site, its label-free side for the choice rows (none without a stream).
using LabelFreeSides = std::vector<std::optional<SiteLabelFree>>;

// The choice row `name` of site `site` against `model_row` (null: the model has no detector for it), its
// reason in the notes; nothing for a site without a label-free side.
absl::Status AddChoice(const model::EncoderSpec& base, const fl::TensorBundle& weights, const FederatedSite& site,
                       const std::optional<SiteLabelFree>& lf, const SiteEvaluation* model_row,
                       const std::string& name, const FederatedOptions& o, FederatedResult* result) {
  if (!lf.has_value()) return absl::OkStatus();
  std::string reason;
  fewshot::ChoiceOptions choice;
  choice.compare = o.choice_compare;
  FEDLOG_ASSIGN_OR_RETURN(SiteEvaluation e, ChoiceRow(base, weights, site, *lf, model_row, name, choice, &reason));
  std::cerr << absl::StrFormat("[%s] %s: F1 %.3f, AUROC %.3f: %s\n", name, site.name, e.metrics.f1,
                               e.metrics.auroc, reason);
  result->notes.push_back(absl::StrCat(name, ": ", site.name, " scored by ", reason));
  result->evaluations.push_back(std::move(e));
  return absl::OkStatus();
}

// Each site's label-free side (LabelFreeSide) and its "label_free" row, for the sites with a stream
// (with o.choice_rows).
absl::StatusOr<LabelFreeSides> LabelFreeAll(const std::vector<FederatedSite>& sites, const FederatedOptions& o,
                                            FederatedResult* result) {
  LabelFreeSides out(sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    if (!o.choice_rows || sites[i].stream.lines.empty()) continue;
    const auto t0 = Clock::now();
    FEDLOG_ASSIGN_OR_RETURN(out[i], LabelFreeSide(sites[i]));
    const SiteEvaluation& e = out[i]->evaluation;
    std::cerr << absl::StrFormat("[label_free] %s: F1 %.3f, AUROC %.3f on %d units (%d anomalous), %d labelled "
                                 "lines (%s), %.1fs\n", e.site, e.metrics.f1, e.metrics.auroc, e.units,
                                 e.anomalous_units, out[i]->labelled.size(),
                                 out[i]->with_labels ? "few-shot rule on them" : "k = 0: not applied", Since(t0));
    result->notes.push_back(absl::StrCat("label_free: ", e.site, ": ",
                                         out[i]->with_labels ? "with its labelled training lines (few-shot rule)"
                                                             : "k = 0 (session detector; labels not applied)"));
    result->evaluations.push_back(e);
  }
  return out;
}

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

absl::StatusOr<fl::TensorBundle> RunFederated(const std::vector<FederatedSite>& sites,
                                              const model::EncoderSpec& base,
                                              const fl::TensorBundle& initial,
                                              const FederatedOptions& o,
                                              std::vector<RoundLog>* rounds,
                                              DpFederation* dp = nullptr) {
  const std::string label = dp != nullptr ? "federated_dp" : "federated";
  fl::TensorBundle global = initial;
  model::LineSet public_lines;  // ReleaseBasis's cache
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
                         sites[who[j]].sources});
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
      FEDLOG_ASSIGN_OR_RETURN(global,
                              AggregateRound(global, updates, o.strategy, &log.update_norm));
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

// The private federation ("federated_dp") from the same start with the same work, its epsilon.
// Without personalisation the private sites run `federated_dp`: its choice rows ("choice_dp") come here.
absl::Status RunPrivateFederation(const std::vector<FederatedSite>& sites,
                                  const model::EncoderSpec& base, const fl::TensorBundle& initial,
                                  const FederatedOptions& o, const LabelFreeSides& free,
                                  FederatedResult* result) {
  DpFederation dp(o, sites.size());
  std::vector<RoundLog> unused;
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle model,
                          RunFederated(sites, base, initial, o, &unused, &dp));
  FEDLOG_ASSIGN_OR_RETURN(result->dp_epsilon, dp.Epsilon());
  if (o.dp_subspace_diagnose) {
    int joined = 0;
    for (const FederatedSite& s : sites) joined += s.join_round <= o.rounds - 1 ? 1 : 0;
    FEDLOG_RETURN_IF_ERROR(
        DiagnoseReleaseSubspace(sites, base, model, o, joined, dp.ReleaseShares(joined), &result->notes));
  }
  result->dp_sigma = o.dp_noise_multiplier;
  result->federated_dp_model = model;
  std::vector<std::string> sources;
  for (const FederatedSite& s : sites) {
    for (const std::string& src : s.sources) {
      if (std::find(sources.begin(), sources.end(), src) == sources.end()) sources.push_back(src);
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                          model::PrepareSiteWeights(base, initial, sources));
  // "initial": the untrained start (identity adapters for every source), scored like the others, to
  // tell a private model that learned from one that stayed where it began.
  for (const auto& [label, weights] : {std::pair<const char*, const fl::TensorBundle*>{
                                           "initial", &start},
                                       {"federated_dp", &model}}) {
    const bool choose = weights == &model && o.personalise_rounds == 0;
    for (size_t i = 0; i < sites.size(); ++i) {
      const FederatedSite& s = sites[i];
      absl::StatusOr<SiteEvaluation> e = EvaluateSite(base, *weights, s, label, o);
      if (e.status().code() == absl::StatusCode::kFailedPrecondition) {
        // No prototypes in the model (line DP sends none, the start has none), so a site whose
        // support set lacks a class has no detector.
        result->notes.push_back(absl::StrCat(label, ": ", s.name, " not scored: ",
                                             e.status().message()));
        if (choose) FEDLOG_RETURN_IF_ERROR(AddChoice(base, *weights, s, free[i], nullptr, "choice_dp", o, result));
        continue;
      }
      FEDLOG_RETURN_IF_ERROR(e.status());
      result->evaluations.push_back(*std::move(e));
      if (choose) {
        const SiteEvaluation row = result->evaluations.back();
        FEDLOG_RETURN_IF_ERROR(AddChoice(base, *weights, s, free[i], &row, "choice_dp", o, result));
      }
    }
  }
  for (const auto& [label, weights] :
       {std::pair<const char*, const fl::TensorBundle*>{"federated", &result->federated_model},
        {"federated_dp", &model}}) {
    if (weights->tensors.empty()) continue;  // --dp-private-only: no non-private federation
    result->notes.push_back(ParameterMovement(label, start, *weights));
    std::cerr << result->notes.back() << "\n";
  }
  result->notes.push_back(absl::StrFormat(
      "federated_dp: %s-level DP, sigma %.4g, clip %.4g, epsilon %.4g at delta %.3g", o.dp_mode,
      o.dp_noise_multiplier, o.dp_clip, result->dp_epsilon, o.dp_delta));
  if (o.dp_mode == "line") {
    result->notes.push_back(absl::StrFormat(
        "federated_dp: labelled objective %s (anomalous rate %.4g, %d normal lines per step, "
        "scope %s), contrastive phase %s, line counts released with noise stddev %.4g",
        model::LabeledDpObjectiveName(o.dp_objective), o.dp_anomalous_rate, o.dp_normal_lines,
        model::DpScopeName(o.dp_scope), o.dp_contrastive ? "on" : "off", o.dp_count_noise));
    result->notes.push_back(
        o.dp_prototype_noise > 0
            ? absl::StrFormat("federated_dp: class sums%s released in the final round with noise stddev %.4g "
                              "(multiplier %.4g; share of the target %.3g)",
                              o.dp_prototype_counts ? " and counts" : " (directions, no counts)",
                              o.dp_prototype_noise,
                              privacy::ClassSumStep(o.dp_prototype_noise,
                                                    o.dp_prototype_counts ? privacy::ClassSumForm::kSumsAndCounts
                                                                          : privacy::ClassSumForm::kDirections)
                                  .noise_multiplier,
                              o.target_epsilon > 0 ? o.dp_prototype_share : 0.0)
            : std::string("federated_dp: no class sums released"));
    if (o.dp_release_subspace > 0) {
      result->notes.push_back(absl::StrFormat(
          "federated_dp: the release noised in the top %d principal directions of the public lines' embeddings "
          "(%s) under the release round's global model (--dp-release-subspace; the same step and epsilon)",
          o.dp_release_subspace, o.dp_release_basis == "adapter" ? "through the sites' adapter" : "shared encoder"));
    }
    if (o.secure_aggregation) {
      result->notes.push_back(absl::StrFormat(
          "federated_dp: secure aggregation: each site adds the class-sum noise share s / sqrt(t), t %s, clip "
          "range %.4g (the pooled sum of >= t sites carries s; the accountant charges s)",
          o.secagg_threshold > 0 ? absl::StrCat(o.secagg_threshold) : std::string("a majority of the round's sites"),
          o.secagg_clip_range));
    }
  }
  return absl::OkStatus();
}

// Each site continues alone from `global` for o.personalise_rounds rounds of the same local work,
// non-private (MakeWork sets no line DP: the weights never leave the site), seeded past the
// federated rounds, and keeps the result when its validation F1 is not lower
// (model::PersonaliseSite, as a daemon with `personalise_rounds` does). "tuned" + `suffix` scores
// the local rounds' weights at every site, kept or not; "personalised" + `suffix` the kept ones. With
// suffix "_dp" the private sites run "personalised_dp": its choice rows ("choice_dp") come here.
absl::Status PersonaliseAll(const std::vector<FederatedSite>& sites,
                            const model::EncoderSpec& base, const fl::TensorBundle& global,
                            const std::string& suffix, const FederatedOptions& o,
                            const LabelFreeSides& free, FederatedResult* result) {
  for (size_t i = 0; i < sites.size(); ++i) {
    const FederatedSite& s = sites[i];
    model::PersonaliseOptions p;
    p.rounds = o.personalise_rounds;
    p.work = MakeWork(o, RoundSeed(o, o.rounds, i), 1);
    p.adapt = SiteAdapt(s, o);
    FEDLOG_ASSIGN_OR_RETURN(
        model::PersonaliseResult pr,
        model::PersonaliseSite(model::SiteSpec(base, s.sources), global, s.train, s.support,
                               s.labeled ? s.validation.lines : model::LineSet{}, p));
    for (const auto& [label, weights] : {std::pair<std::string, const fl::TensorBundle*>{
                                             "tuned" + suffix, &pr.tuned},
                                         {"personalised" + suffix, &pr.weights}}) {
      const bool choose = suffix == "_dp" && weights == &pr.weights;
      absl::StatusOr<SiteEvaluation> e = EvaluateSite(base, *weights, s, label, o);
      if (e.status().code() == absl::StatusCode::kFailedPrecondition) {
        // No prototypes: the site's lines and support set lack a class.
        result->notes.push_back(absl::StrCat(label, ": ", s.name, " not scored: ",
                                             e.status().message()));
        if (choose) FEDLOG_RETURN_IF_ERROR(AddChoice(base, *weights, s, free[i], nullptr, "choice_dp", o, result));
        continue;
      }
      FEDLOG_RETURN_IF_ERROR(e.status());
      result->evaluations.push_back(*std::move(e));
      if (choose) {
        const SiteEvaluation row = result->evaluations.back();
        FEDLOG_RETURN_IF_ERROR(AddChoice(base, *weights, s, free[i], &row, "choice_dp", o, result));
      }
    }
    result->notes.push_back(absl::StrFormat(
        "%s%s: %s after %d local rounds (validation F1 global %.3f, tuned %.3f; -1: no "
        "validation lines, global kept), %.1fs",
        s.name, suffix, pr.personalised ? "personalised" : "kept the global model",
        o.personalise_rounds, pr.validation_f1_global, pr.validation_f1_personal, pr.seconds));
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
                            RunFederated(sites, base, initial, o, &result.rounds));
    for (size_t i = 0; i < sites.size(); ++i) {
      FEDLOG_ASSIGN_OR_RETURN(SiteEvaluation e,
                              EvaluateSite(base, result.federated_model, sites[i], "federated", o));
      result.evaluations.push_back(e);
      FEDLOG_RETURN_IF_ERROR(
          AddChoice(base, result.federated_model, sites[i], free[i], &e, "choice", o, &result));
    }
  }
  if (!o.dp_mode.empty()) {
    FEDLOG_RETURN_IF_ERROR(RunPrivateFederation(sites, base, initial, o, free, &result));
  }
  if (o.personalise_rounds > 0) {
    if (!o.dp_private_only) {
      FEDLOG_RETURN_IF_ERROR(PersonaliseAll(sites, base, result.federated_model, "", o, free, &result));
    }
    if (!o.dp_mode.empty()) {
      FEDLOG_RETURN_IF_ERROR(
          PersonaliseAll(sites, base, result.federated_dp_model, "_dp", o, free, &result));
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
