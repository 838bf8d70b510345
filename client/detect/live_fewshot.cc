#include "client/detect/live_fewshot.h"

#include <algorithm>
#include <cmath>
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
// newest verdict (labels come oldest first) is its label, with that line's score.
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
      units[it->second].free_score = (*support)[i].free_score;
      units[it->second].embedding = std::move((*support)[i].embedding);
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

void LiveFewShot::AddLabel(int source, int32_t template_id, std::string_view content, int label,
                           double fused_score, absl::Span<const float> embedding) {
  if (source < 0 || static_cast<size_t>(source) >= support_.size()) return;
  fewshot::Unit unit;
  fewshot::AddTokens(template_id, content, &unit);
  fewshot::Finish(&unit);
  unit.free_score = std::isnan(fused_score) ? std::numeric_limits<double>::quiet_NaN() : Squash(fused_score);
  if (wants_embeddings()) unit.embedding.assign(embedding.begin(), embedding.end());
  support_[static_cast<size_t>(source)].push_back(std::move(unit));
  labels_[static_cast<size_t>(source)].push_back(label > 0 ? 1 : 0);
}

void LiveFewShot::End() {
  for (size_t s = 0; s < support_.size(); ++s) {
    if (support_[s].empty()) continue;
    Deduplicate(&support_[s], &labels_[s]);
    Fit(s);
  }
}

// The detector on the source's labels, its threshold from the window: the operating point at the
// window's alert rate, raised towards the labels' cut (labels without a score do not count there).
void LiveFewShot::Fit(size_t source) {
  Window& w = windows_[source];
  w.since_fit = 0;
  if (support_[source].empty()) return;
  std::vector<double> sorted = w.scores;
  std::sort(sorted.begin(), sorted.end());
  double alerted = 0;
  for (uint8_t a : w.alerts) alerted += a;
  const double start = sorted.empty()
                           ? 0.0
                           : fewshot::OperatingPoint(sorted, alerted / static_cast<double>(sorted.size()));
  // Labels with no known score (NaN) still decide the lines near them; they take the operating
  // point as their score, which leaves the cut's evidence to the scored ones.
  std::vector<fewshot::Unit> support = support_[source];
  for (fewshot::Unit& u : support) {
    if (std::isnan(u.free_score)) u.free_score = start;
  }
  // The window's lines as the encoder rule's reference (their embeddings, when lines carry them).
  std::vector<fewshot::Unit> window;
  std::vector<const fewshot::Unit*> reference;
  if (wants_embeddings()) {
    window.resize(w.scores.size());
    for (size_t i = 0; i < w.scores.size(); ++i) {
      window[i].free_score = w.scores[i];
      window[i].free_alert = w.alerts[i] != 0;
      window[i].embedding = w.embeddings[i];
      reference.push_back(&window[i]);
    }
  }
  absl::StatusOr<fewshot::FewShotDetector> d =
      fewshot::FewShotDetector::Fit(support, labels_[source], options_, start, std::move(sorted), reference);
  if (d.ok()) detectors_[source] = std::move(*d);
}

bool LiveFewShot::Reference(int source, std::vector<double>* sorted, double* operating_point) const {
  if (source < 0 || static_cast<size_t>(source) >= windows_.size()) return false;
  const Window& w = windows_[static_cast<size_t>(source)];
  if (w.scores.size() < kMinWindow) return false;
  *sorted = w.scores;
  std::sort(sorted->begin(), sorted->end());
  double alerted = 0;
  for (uint8_t a : w.alerts) alerted += a;
  *operating_point = fewshot::OperatingPoint(*sorted, alerted / static_cast<double>(sorted->size()));
  return true;
}

void LiveFewShot::Observe(int source, double fused_score, bool alert, absl::Span<const float> embedding) {
  if (source < 0 || static_cast<size_t>(source) >= windows_.size()) return;
  Window& w = windows_[static_cast<size_t>(source)];
  const double x = Squash(fused_score);
  const bool keep = wants_embeddings();
  if (w.scores.size() < kWindow) {
    w.scores.push_back(x);
    w.alerts.push_back(alert ? 1 : 0);
    w.embeddings.emplace_back(keep ? embedding.begin() : embedding.end(), embedding.end());
  } else {
    w.scores[w.next] = x;
    w.alerts[w.next] = alert ? 1 : 0;
    w.embeddings[w.next].assign(keep ? embedding.begin() : embedding.end(), embedding.end());
    w.next = (w.next + 1) % kWindow;
  }
  if (keep && ++w.since_fit >= kEncoderRefitLines && !support_[static_cast<size_t>(source)].empty()) {
    Fit(static_cast<size_t>(source));
  }
}

void LiveFewShot::ForgetEmbeddings() {
  for (Window& w : windows_) {
    for (std::vector<float>& z : w.embeddings) z.clear();
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

double LiveFewShot::threshold(int source) const {
  if (source < 0 || static_cast<size_t>(source) >= detectors_.size()) return 0;
  const std::optional<fewshot::FewShotDetector>& d = detectors_[static_cast<size_t>(source)];
  if (!d.has_value() || windows_[static_cast<size_t>(source)].scores.size() < kMinWindow) return 0;
  return d->threshold();
}

bool LiveFewShot::KeepsAlert(int source, double fused_score) const {
  return lowered(source) || Squash(fused_score) >= threshold(source);
}

bool LiveFewShot::lowered(int source) const {
  if (threshold(source) <= 0) return false;  // none applies (also: no detector, young window)
  return detectors_[static_cast<size_t>(source)]->lowered();
}

bool LiveFewShot::encoder(int source) const {
  if (threshold(source) <= 0) return false;  // none applies (also: no detector, young window)
  return detectors_[static_cast<size_t>(source)]->encoder();
}

bool LiveFewShot::Alerts(int source, double fused_score, bool free_alert,
                         absl::Span<const float> embedding) const {
  if (threshold(source) <= 0) return free_alert;
  if (encoder(source)) {
    scratch_.free_score = Squash(fused_score);
    scratch_.free_alert = free_alert;
    scratch_.embedding.assign(embedding.begin(), embedding.end());
    return detectors_[static_cast<size_t>(source)]->UndecidedAlert(scratch_);
  }
  const bool reaches = Squash(fused_score) >= threshold(source);
  return lowered(source) ? free_alert || reaches : free_alert && reaches;
}

bool LiveFewShot::KeepsLabelFreeAlert(int source, int32_t template_id, std::string_view content) const {
  if (!(options_.keep_alert_match > 0) || threshold(source) <= 0 || encoder(source)) return false;
  scratch_.tokens.clear();
  fewshot::AddTokens(template_id, content, &scratch_);
  fewshot::Finish(&scratch_);
  return !detectors_[static_cast<size_t>(source)]->NormalLabelNear(scratch_);
}

size_t LiveFewShot::labels(int source) const {
  if (source < 0 || static_cast<size_t>(source) >= labels_.size()) return 0;
  return labels_[static_cast<size_t>(source)].size();
}

}  // namespace fedlog::client::detect
