// Public pre-training (public_pretrain.h): RunSiteRound's non-private work on the pooled public lines.
#include "common/model/public_pretrain.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/contrastive_trainer.h"

namespace fedlog::model {
namespace {

absl::Status CheckInput(const EncoderSpec& spec, const LineSet& lines,
                        const PublicPretrainOptions& options) {
  if (!spec.sources.empty()) {
    return absl::InvalidArgumentError("public pre-training trains no adapters: spec.sources must be empty");
  }
  if (options.rounds < 1 || options.rounds > 10000) {
    return absl::InvalidArgumentError("pre-training rounds must be in 1..10000");
  }
  if (lines.labels.size() != static_cast<size_t>(lines.size())) {
    return absl::InvalidArgumentError("public lines need one label each (-1: unlabelled)");
  }
  if (!HasBothClasses(lines.labels)) {
    return absl::InvalidArgumentError("public lines need normal and anomalous labels");
  }
  for (const std::string& s : lines.sources) {
    if (!s.empty()) return absl::InvalidArgumentError("public lines must carry no source name");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PublicPretrainResult> PretrainPublic(const EncoderSpec& spec, const LineSet& lines,
                                                    const PublicPretrainOptions& options) {
  FEDLOG_RETURN_IF_ERROR(CheckInput(spec, lines, options));
  const auto t0 = std::chrono::steady_clock::now();
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle weights, InitialEncoderWeights(spec));
  PublicPretrainResult result;
  result.lines = lines.size();
  result.anomalous_lines =
      std::count_if(lines.labels.begin(), lines.labels.end(), [](int l) { return l > 0; });
  LocalWork work = options.work;
  work.line_dp = LineDpOptions{};
  for (int r = 0; r < options.rounds; ++r) {
    work.runtime.seed = options.work.runtime.seed + static_cast<uint64_t>(r);
    FEDLOG_ASSIGN_OR_RETURN(SiteRoundResult round, RunSiteRound(spec, weights, lines, {}, work));
    weights = std::move(round.weights);
    result.contrastive_loss = round.contrastive_loss;
    result.meta_loss = round.meta_loss;
  }
  if (weights.Find("prototypes.global") == nullptr) {
    return absl::InternalError("pre-training computed no prototypes.global");
  }
  result.weights = std::move(weights);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace fedlog::model
