#include "common/model/personalise.h"

#include <chrono>
#include <utility>

#include "common/base/status_macros.h"

namespace fedlog::model {
namespace {

absl::StatusOr<double> ValidationF1(const EncoderSpec& spec, const fl::TensorBundle& weights,
                                    const LineSet& support, const LineSet& validation,
                                    const AdaptOptions& adapt) {
  FEDLOG_ASSIGN_OR_RETURN(FewShotModel detector,
                          BuildSiteDetector(spec, weights, support, validation, adapt));
  return detector.validation_f1;
}

}  // namespace

absl::StatusOr<PersonaliseResult> PersonaliseSite(const EncoderSpec& spec,
                                                  const fl::TensorBundle& global,
                                                  const LineSet& train, const LineSet& support,
                                                  const LineSet& validation,
                                                  const PersonaliseOptions& options) {
  if (options.rounds < 0) return absl::InvalidArgumentError("personalise rounds must be >= 0");
  const auto t0 = std::chrono::steady_clock::now();
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start, PrepareSiteWeights(spec, global, spec.sources));
  PersonaliseResult result;
  result.weights = start;
  if (options.rounds == 0) return result;
  fl::TensorBundle personal = start;
  for (int r = 0; r < options.rounds; ++r) {
    LocalWork work = options.work;
    // The local rounds' weights never leave the site and never start a round that is uploaded
    // (each federated round starts from the downloaded global model), so they run without line DP
    // whatever the federation's plan: noise here would protect nothing (docs/PRIVACY.md).
    work.line_dp = LineDpOptions();
    work.runtime.seed = options.work.runtime.seed + static_cast<uint64_t>(r);
    FEDLOG_ASSIGN_OR_RETURN(SiteRoundResult round,
                            RunSiteRound(spec, personal, train, LineSet{}, work));
    personal = std::move(round.weights);
  }
  if (HasBothClasses(validation.labels)) {
    FEDLOG_ASSIGN_OR_RETURN(result.validation_f1_global,
                            ValidationF1(spec, start, support, validation, options.adapt));
    absl::StatusOr<double> personal_f1 =
        ValidationF1(spec, personal, support, validation, options.adapt);
    // No detector from the local weights (no prototypes: the site's lines lack a class and so does
    // its support set): the global model is kept.
    if (personal_f1.status().code() == absl::StatusCode::kFailedPrecondition) personal_f1 = -1.0;
    FEDLOG_ASSIGN_OR_RETURN(result.validation_f1_personal, std::move(personal_f1));
    if (result.validation_f1_personal >= result.validation_f1_global) {
      result.weights = personal;
      result.personalised = true;
    }
  }
  result.tuned = std::move(personal);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace fedlog::model
