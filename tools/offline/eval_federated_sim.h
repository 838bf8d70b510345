// The pieces of `fedlog eval federated`'s simulation (eval_federated.h's RunFederatedSimulation) that its
// files share. Internal to tools/offline: eval_federated_sim.cc runs the rounds and the baselines,
// eval_federated_site_scores.cc scores a model at a site (its detector, the choice rows, the label-free
// side), eval_federated_private.cc runs the private federation and the personalised sites.
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_FEDERATED_SIM_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_FEDERATED_SIM_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/few_shot.h"
#include "common/model/site_round.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline::sim {

using Clock = std::chrono::steady_clock;

// Seconds since `t0`.
double Since(Clock::time_point t0);

// Work of one site round; `scale` multiplies the steps (the centralized model does the work of every
// participant of the round).
model::LocalWork MakeWork(const FederatedOptions& o, uint64_t seed, int scale);
// The seed of site `site`'s work in round `round`.
uint64_t RoundSeed(const FederatedOptions& o, int round, size_t site);

// How a site's detector is adapted (lines: nearest-support prototypes, calibrated; sessions: class means).
model::AdaptOptions SiteAdapt(const FederatedSite& site, const FederatedOptions& o);

// The site's detector (model::BuildSiteDetector with every adapter of the site, as the site trainer builds
// it, client/site_trainer.cc) from its support lines, calibrated and thresholded on its validation part,
// scored on its test units; the row is named `name`.
absl::StatusOr<SiteEvaluation> EvaluateSite(const model::EncoderSpec& base, const fl::TensorBundle& weights,
                                            const FederatedSite& site, const std::string& name,
                                            const FederatedOptions& o);

// Per site, its label-free side for the choice rows (none without a stream).
using LabelFreeSides = std::vector<std::optional<SiteLabelFree>>;

// The choice row `name` of site `site` against `model_row` (null: the model has no detector for it), its
// reason in the notes; nothing for a site without a label-free side.
absl::Status AddChoice(const model::EncoderSpec& base, const fl::TensorBundle& weights, const FederatedSite& site,
                       const std::optional<SiteLabelFree>& lf, const SiteEvaluation* model_row,
                       const std::string& name, const FederatedOptions& o, FederatedResult* result);

// Each site's label-free side (LabelFreeSide) and its "label_free" row, for the sites with a stream (with
// o.choice_rows).
absl::StatusOr<LabelFreeSides> LabelFreeAll(const std::vector<FederatedSite>& sites, const FederatedOptions& o,
                                            FederatedResult* result);

// o.rounds federated rounds from `initial` (model::RunSiteRound per joined site, AggregateRound), the rounds'
// logs in `rounds`; with `dp`, the private federation ("federated_dp": line or site DP as `dp` runs it).
absl::StatusOr<fl::TensorBundle> RunFederated(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                              const fl::TensorBundle& initial, const FederatedOptions& o,
                                              std::vector<RoundLog>* rounds, DpFederation* dp = nullptr);

// The private federation ("federated_dp") from the same start with the same work, its epsilon and rows.
// Without personalisation the private sites run `federated_dp`: its choice rows ("choice_dp") come here.
absl::Status RunPrivateFederation(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                  const fl::TensorBundle& initial, const FederatedOptions& o,
                                  const LabelFreeSides& free, FederatedResult* result);

// Each site continues alone from `global` for o.personalise_rounds rounds (model::PersonaliseSite); rows
// "tuned" + `suffix` and "personalised" + `suffix` (with suffix "_dp", the private sites' "choice_dp" rows).
absl::Status PersonaliseAll(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                            const fl::TensorBundle& global, const std::string& suffix, const FederatedOptions& o,
                            const LabelFreeSides& free, FederatedResult* result);

}  // namespace fedlog::offline::sim

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_FEDERATED_SIM_H_
