#include "client/privacy_step.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/match.h"
#include "common/base/status_macros.h"
#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/line_count.h"
#include "common/privacy/site_dp.h"

namespace fedlog::client {
namespace {

// Removes the tensors `drop` selects; returns how many.
template <typename Pred>
int DropTensors(fl::TensorBundle* delta, Pred drop) {
  auto& t = delta->tensors;
  const int n = static_cast<int>(std::count_if(t.begin(), t.end(), drop));
  t.erase(std::remove_if(t.begin(), t.end(), drop), t.end());
  return n;
}

}  // namespace

absl::StatusOr<PrivacyStepResult> ApplyPrivacyStep(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy,
                                                   privacy::GaussianSampler& sampler, fl::TensorBundle* delta) {
  PrivacyStepResult result;
  if (policy.has_upload_prototypes() && !policy.upload_prototypes()) {
    // A secure-aggregation release round keeps prototypes.release: PrepareMaskedClassSumRelease replaces it by
    // noise alone, since every survivor must add its noise share.
    const bool keep_release = task.secure_aggregation() && task.secagg().class_sum_release();
    result.dropped_tensors += DropTensors(delta, [&](const fl::NamedTensor& n) {
      if (keep_release && n.name == fl::kReleasedPrototypesName) return false;
      // prototypes.global and every source's adapter.<source>.prototypes: both are mean embeddings of labelled lines.
      return absl::StartsWith(n.name, "prototypes.") || absl::EndsWith(n.name, ".prototypes");
    });
  }
  if (task.dp_mode() != "site") return result;
  result.dropped_tensors += DropTensors(delta, [](const fl::NamedTensor& n) { return fl::IsOptionalTensor(n.name); });
  privacy::SiteDpOptions options;
  options.clip = task.dp_clip();
  options.noise_multiplier = task.dp_noise_multiplier();
  options.min_sites = task.dp_min_sites();
  FEDLOG_RETURN_IF_ERROR(privacy::ValidateSiteDpOptions(options));
  // One vector over every uploaded tensor: the bound is on the site's whole contribution.
  std::vector<float> flat;
  for (const fl::NamedTensor& t : delta->tensors) flat.insert(flat.end(), t.values.begin(), t.values.end());
  FEDLOG_ASSIGN_OR_RETURN(privacy::ClipResult clip, privacy::ClipAndAddNoiseShare(absl::MakeSpan(flat), options,
                                                                                  sampler));
  size_t at = 0;
  for (fl::NamedTensor& t : delta->tensors) {
    std::copy(flat.begin() + static_cast<std::ptrdiff_t>(at),
              flat.begin() + static_cast<std::ptrdiff_t>(at + t.values.size()), t.values.begin());
    at += t.values.size();
  }
  result.noised = true;
  result.norm_before = clip.norm;
  result.clip_scale = clip.scale;
  result.noise_stddev = privacy::NoiseShareStddev(options);
  result.coordinates = static_cast<int64_t>(flat.size());
  return result;
}

absl::StatusOr<int64_t> ReleaseLineCount(int64_t run_id, int32_t round, double noise,
                                         privacy::GaussianSampler& sampler, SiteLedger* ledger,
                                         v1::UpdateHeader* header) {
  // Drawn first (a bad count or noise is refused before anything is charged), charged before it can leave.
  FEDLOG_ASSIGN_OR_RETURN(int64_t count, privacy::NoisedLineCount(header->num_samples(), noise,
                                                                  fl::kMaxUpdateSamples, sampler));
  FEDLOG_RETURN_IF_ERROR(ledger->Charge(run_id, round, privacy::LineCountStep(noise)));
  header->set_num_samples(count);
  return count;
}

absl::Status ScaleClassSumRelease(const fl::TensorBundle& global, int64_t weight, fl::TensorBundle* delta) {
  for (fl::NamedTensor& t : delta->tensors) {
    if (t.name != fl::kReleasedPrototypesName) continue;
    const fl::NamedTensor* base = global.Find(t.name);
    if (base != nullptr && base->values.size() != t.values.size()) {
      return absl::InvalidArgumentError("the global model's prototypes.release differs in shape");
    }
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] += base != nullptr ? base->values[i] : 0.0f;
    FEDLOG_RETURN_IF_ERROR(privacy::ScaleToWeight(absl::MakeSpan(t.values), weight));
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] -= base != nullptr ? base->values[i] : 0.0f;
  }
  return absl::OkStatus();
}

absl::Status PrepareMaskedClassSumRelease(const v1::RoundTask& task, const fl::TensorBundle& global, int64_t weight,
                                          bool withhold, privacy::GaussianSampler& sampler, fl::TensorBundle* delta,
                                          v1::UpdateHeader* header) {
  const int shares = task.plan().line_dp_prototype_noise_shares();
  const double s = task.plan().line_dp_prototype_noise();
  fl::NamedTensor* release = nullptr;
  for (fl::NamedTensor& t : delta->tensors) {
    if (t.name == fl::kReleasedPrototypesName) release = &t;
  }
  if (release == nullptr || shares < 1 || !privacy::IsValidClassSumNoise(s) || weight < 1) {
    return absl::InvalidArgumentError("a secure-aggregation release round needs the release, its shares and noise");
  }
  const fl::NamedTensor* base = global.Find(fl::kReleasedPrototypesName);
  if (base != nullptr && base->values.size() != release->values.size()) {
    return absl::InvalidArgumentError("the global model's prototypes.release differs in shape");
  }
  float base_max = 0;
  for (size_t i = 0; base != nullptr && i < base->values.size(); ++i) {
    base_max = std::max(base_max, std::fabs(base->values[i]));
  }
  if (withhold) {  // zeros plus the noise share, as a site without labelled lines releases
    std::fill(release->values.begin(), release->values.end(), 0.0f);
    const bool directions = task.plan().line_dp_prototype_directions();
    FEDLOG_RETURN_IF_ERROR(privacy::NoiseClassSums(
        absl::MakeSpan(release->values), s, sampler, shares,
        directions ? privacy::ClassSumForm::kDirections : privacy::ClassSumForm::kSumsAndCounts,
        release->shape.size() == 2 ? release->shape[1] - 1 : 0));
    for (size_t i = 0; base != nullptr && i < release->values.size(); ++i) release->values[i] -= base->values[i];
  }
  const double max_weight = task.secagg().max_weight() > 0 ? task.secagg().max_weight() : 1e6;
  const int64_t masked_weight = std::min<int64_t>(weight, static_cast<int64_t>(max_weight));
  FEDLOG_RETURN_IF_ERROR(privacy::CheckReleaseFitsRange(task.secagg().clip_range() - base_max, masked_weight,
                                                        privacy::EffectiveLineCountNoise(task.plan().line_dp_count_noise()),
                                                        privacy::ClassSumShareStddev(s, shares)));
  FEDLOG_RETURN_IF_ERROR(ScaleClassSumRelease(global, masked_weight, delta));
  header->set_class_sum_noise_shares(shares);
  return absl::OkStatus();
}

}  // namespace fedlog::client
