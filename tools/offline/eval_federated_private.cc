// `fedlog eval federated`: the private federation (line or site DP, its epsilon and rows) and the sites that
// continue alone from a global model (personalisation), eval_federated_sim.h.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/model/line_input.h"
#include "common/model/personalise.h"
#include "common/privacy/class_sums.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/eval_federated_sim.h"

namespace fedlog::offline::sim {
namespace {

// Row `label` of `weights` at site `s`, and with `choose` its "choice_dp" row. A model without prototypes
// for a class the site's support set lacks (line DP sends none, the untrained start has none) has no
// detector there: a note, and the choice row against no model.
absl::Status ScoreRow(const model::EncoderSpec& base, const fl::TensorBundle& weights, const FederatedSite& s,
                      const std::string& label, const FederatedOptions& o, const std::optional<SiteLabelFree>& lf,
                      bool choose, FederatedResult* result) {
  absl::StatusOr<SiteEvaluation> e = EvaluateSite(base, weights, s, label, o);
  if (e.status().code() == absl::StatusCode::kFailedPrecondition) {
    result->notes.push_back(absl::StrCat(label, ": ", s.name, " not scored: ", e.status().message()));
    return choose ? AddChoice(base, weights, s, lf, nullptr, "choice_dp", o, result) : absl::OkStatus();
  }
  FEDLOG_RETURN_IF_ERROR(e.status());
  result->evaluations.push_back(*std::move(e));
  if (!choose) return absl::OkStatus();
  const SiteEvaluation row = result->evaluations.back();
  return AddChoice(base, weights, s, lf, &row, "choice_dp", o, result);
}

}  // namespace

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
  if (o.dp_shrink_diagnose) {
    int joined = 0;
    for (const FederatedSite& s : sites) joined += s.join_round <= o.rounds - 1 ? 1 : 0;
    FEDLOG_RETURN_IF_ERROR(
        DiagnoseReleaseShrink(sites, base, model, o, joined, dp.ReleaseShares(joined), &result->notes));
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
      FEDLOG_RETURN_IF_ERROR(ScoreRow(base, *weights, s, label, o, free[i], choose, result));
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
    if (o.dp_release_shrink) {
      result->notes.push_back(
          "federated_dp: the release's decoded prototypes shrunk by their James-Stein weights max(0, 1 - E|noise|^2 "
          "/ |pooled row|^2) (--dp-release-shrink; post-processing, no privacy cost)");
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
      FEDLOG_RETURN_IF_ERROR(ScoreRow(base, *weights, s, label, o, free[i], choose, result));
    }
    result->notes.push_back(absl::StrFormat(
        "%s%s: %s after %d local rounds (validation F1 global %.3f, tuned %.3f; -1: no "
        "validation lines, global kept), %.1fs",
        s.name, suffix, pr.personalised ? "personalised" : "kept the global model",
        o.personalise_rounds, pr.validation_f1_global, pr.validation_f1_personal, pr.seconds));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline::sim
