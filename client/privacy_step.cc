#include "client/privacy_step.h"

#include <algorithm>
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
    result.dropped_tensors += DropTensors(delta, [](const fl::NamedTensor& n) {
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

}  // namespace fedlog::client
