// Personalisation after federation: a site continues alone from the federated global model for a
// few rounds of its usual local work (model::RunSiteRound on its own lines) and keeps the result
// only when its detector does at least as well on the site's labeled validation lines as the global
// model's detector. Sites whose sources the federation pulled away from (labels that disagree with
// the other sites') gain; a site with a handful of anomalies, where local rounds overfit, keeps the
// global model. The local rounds never run line-level DP (PersonaliseOptions::work.line_dp is
// ignored): their weights stay on the site and no uploaded round starts from them, so under a
// line-DP federation this is the site's non-private local step on its own labels
// (docs/PRIVACY.md, "Few coordinates under line DP"). Torch-free interface (site_round.h, few_shot.h); the site daemon
// (client/site_daemon.cc, `personalise_rounds`), `fedlog score` and `fedlog eval federated` call it.
// Thread-safety: reentrant, as RunSiteRound.
#ifndef FEDLOG_COMMON_MODEL_PERSONALISE_H_
#define FEDLOG_COMMON_MODEL_PERSONALISE_H_

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/few_shot.h"
#include "common/model/site_round.h"

namespace fedlog::model {

struct PersonaliseOptions {
  int rounds = 5;  // local rounds after the federation (0: keep the global model, no training)
  LocalWork work;  // each round's work; round r is seeded work.runtime.seed + r
  AdaptOptions adapt;  // the detectors compared on the validation lines
};

struct PersonaliseResult {
  fl::TensorBundle weights;   // the kept weights: the personalised ones, or the global model
  bool personalised = false;  // true: the local rounds' weights were kept
  fl::TensorBundle tuned;     // the local rounds' weights, kept or not (empty when rounds == 0)
  // FewShotModel::validation_f1 of each detector (F1 on the validation lines at its max-F1
  // threshold); -1 without validation lines of both classes (then the global model is kept).
  double validation_f1_global = -1;
  double validation_f1_personal = -1;
  double seconds = 0;  // the local rounds and both detectors
};

// `global`: the federated model as the site downloaded it (PrepareSiteWeights adds identity
// adapters for sources it lacks); `spec` lists the site's sources (SiteSpec). `train` as for
// RunSiteRound; `support` the detector's labeled support lines (may be empty: the model's
// prototypes); `validation` labeled held-out lines that calibrate both detectors and decide.
// InvalidArgument for bad weights or lines, as RunSiteRound and BuildSiteDetector.
absl::StatusOr<PersonaliseResult> PersonaliseSite(const EncoderSpec& spec,
                                                  const fl::TensorBundle& global,
                                                  const LineSet& train, const LineSet& support,
                                                  const LineSet& validation,
                                                  const PersonaliseOptions& options);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_PERSONALISE_H_
