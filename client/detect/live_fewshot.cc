#include "client/detect/live_fewshot.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/base/status_macros.h"

namespace fedlog::client::detect {

absl::StatusOr<LiveFewShot> LiveFewShot::Create(size_t sources,
                                                const fewshot::FewShotOptions& options) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  return LiveFewShot(sources, options);
}

// Lines with the same tokens are one support unit (each line costs a Jaccard per scored line); the
// newest verdict (labels come oldest first) is its label.
void LiveFewShot::Deduplicate(std::vector<fewshot::Unit>* support, std::vector<int>* labels) {
  absl::flat_hash_map<std::vector<uint64_t>, size_t> index;
  std::vector<fewshot::Unit> units;
  std::vector<int> y;
  for (size_t i = 0; i < support->size(); ++i) {
    auto [it, added] = index.try_emplace((*support)[i].tokens, units.size());
    if (added) {
      units.push_back(std::move((*support)[i]));
      y.push_back((*labels)[i]);
    } else {
      y[it->second] = (*labels)[i];
    }
  }
  *support = std::move(units);
  *labels = std::move(y);
}

void LiveFewShot::Begin() {
  for (auto& s : support_) s.clear();
  for (auto& l : labels_) l.clear();
  for (auto& d : detectors_) d.reset();
}

void LiveFewShot::AddLabel(int source, int32_t template_id, std::string_view content, int label) {
  if (source < 0 || static_cast<size_t>(source) >= support_.size()) return;
  fewshot::Unit unit;
  fewshot::AddTokens(template_id, content, &unit);
  fewshot::Finish(&unit);
  support_[static_cast<size_t>(source)].push_back(std::move(unit));
  labels_[static_cast<size_t>(source)].push_back(label > 0 ? 1 : 0);
}

void LiveFewShot::End() {
  for (size_t s = 0; s < support_.size(); ++s) {
    if (support_[s].empty()) continue;
    Deduplicate(&support_[s], &labels_[s]);
    // Only Decide is used: the unmatched lines keep the label-free scorer's own decision.
    absl::StatusOr<fewshot::FewShotDetector> d =
        fewshot::FewShotDetector::Fit(support_[s], labels_[s], options_);
    if (d.ok()) detectors_[s] = std::move(*d);
  }
}

std::optional<fewshot::FewShotDetector::Decision> LiveFewShot::Decide(
    int source, int32_t template_id, std::string_view content) const {
  if (source < 0 || static_cast<size_t>(source) >= detectors_.size()) return std::nullopt;
  const std::optional<fewshot::FewShotDetector>& d = detectors_[static_cast<size_t>(source)];
  if (!d.has_value()) return std::nullopt;
  scratch_.tokens.clear();
  fewshot::AddTokens(template_id, content, &scratch_);
  fewshot::Finish(&scratch_);
  const fewshot::FewShotDetector::Decision decision = d->Decide(scratch_);
  if (!decision.near) return std::nullopt;
  return decision;
}

size_t LiveFewShot::labels(int source) const {
  if (source < 0 || static_cast<size_t>(source) >= labels_.size()) return 0;
  return labels_[static_cast<size_t>(source)].size();
}

}  // namespace fedlog::client::detect
