#include "common/fewshot/encoder_rank.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedlog::fewshot::internal {
namespace {

// `z` scaled to unit norm; empty when it is zero or not finite.
std::vector<float> UnitNorm(const std::vector<float>& z) {
  double norm = 0;
  for (float x : z) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return {};
  std::vector<float> out(z.size());
  for (size_t i = 0; i < z.size(); ++i) out[i] = static_cast<float>(z[i] / norm);
  return out;
}

}  // namespace

std::unique_ptr<EncoderRank> EncoderRank::Fit(const std::vector<Unit>& support, const std::vector<int>& labels,
                                              const std::vector<const Unit*>& reference, double weight) {
  size_t dim = 0;
  for (const Unit& u : support) {
    if (!u.embedding.empty()) {
      dim = u.embedding.size();
      break;
    }
  }
  if (dim == 0) return nullptr;
  std::vector<float> flat;
  std::vector<int> y;
  bool has[2] = {false, false};
  for (size_t i = 0; i < support.size(); ++i) {
    if (support[i].embedding.size() != dim) continue;
    const std::vector<float> z = UnitNorm(support[i].embedding);
    if (z.empty()) continue;
    flat.insert(flat.end(), z.begin(), z.end());
    y.push_back(labels[i] > 0 ? 1 : 0);
    has[y.back()] = true;
  }
  if (!has[0] || !has[1]) return nullptr;
  absl::StatusOr<model::PrototypePrior> means = model::PrototypePrior::Fit({}, dim, flat, y);
  if (!means.ok() || !means->ready()) return nullptr;
  std::unique_ptr<EncoderRank> r(new EncoderRank());
  r->weight_ = weight;
  r->dim_ = dim;
  r->means_ = std::move(*means);
  std::vector<const Unit*> ref;
  for (const Unit* u : reference) {
    if (u != nullptr && u->embedding.size() == dim) ref.push_back(u);
  }
  if (ref.size() < 2) return nullptr;
  double alerted = 0;
  for (const Unit* u : ref) {
    r->free_sorted_.push_back(std::clamp(u->free_score, 0.0, 1.0));
    r->encoder_sorted_.push_back(r->EncoderScore(*u));
    alerted += u->free_alert ? 1 : 0;
  }
  std::sort(r->free_sorted_.begin(), r->free_sorted_.end());
  std::sort(r->encoder_sorted_.begin(), r->encoder_sorted_.end());
  for (const Unit* u : ref) r->reference_fused_.push_back(r->Fused(*u));
  std::sort(r->reference_fused_.begin(), r->reference_fused_.end());
  r->alert_rate_ = alerted / static_cast<double>(ref.size());
  return r;
}

double EncoderRank::EncoderScore(const Unit& unit) const {
  if (unit.embedding.size() != dim_ || !means_.has_value()) return std::numeric_limits<double>::quiet_NaN();
  double norm = 0;
  for (float x : unit.embedding) norm += static_cast<double>(x) * x;
  if (!(norm > 0) || !std::isfinite(norm)) return std::numeric_limits<double>::quiet_NaN();
  return means_->Score(unit.embedding.data());
}

double EncoderRank::Fused(const Unit& unit) const {
  const double free_score = std::isnan(unit.free_score) ? 0.0 : std::clamp(unit.free_score, 0.0, 1.0);
  const double e = EncoderScore(unit);
  const double q_encoder = std::isnan(e) ? 0.5 : QuantileOf(encoder_sorted_, e);
  return (1.0 - weight_) * QuantileOf(free_sorted_, free_score) + weight_ * q_encoder;
}

}  // namespace fedlog::fewshot::internal
