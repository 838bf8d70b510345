#include "common/fl/strategy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fl/fedavg.h"
#include "common/fl/part_norms.h"

namespace fedlog::fl {
namespace {

// Normalises non-negative terms to sum 1; uniform when they are all zero.
std::vector<double> Normalise(std::vector<double> v) {
  double sum = 0;
  for (double x : v) sum += x;
  for (double& x : v) x = sum > 0 ? x / sum : 1.0 / static_cast<double>(v.size());
  return v;
}

// Whether update `u` contributes to tensor `name`: it carries it and, for an adapter, runs its source.
const NamedTensor* Contribution(const ClientUpdate& u, const std::string& name, const std::string& source) {
  const NamedTensor* t = u.delta->Find(name);
  if (t == nullptr || source.empty()) return t;
  return std::find(u.stats.sources.begin(), u.stats.sources.end(), source) != u.stats.sources.end() ? t : nullptr;
}

// Robust statistic of `values` (modified in place): median or trimmed mean.
float RobustValue(std::vector<float>* values, StrategyKind kind, double trim) {
  const size_t n = values->size();
  if (kind == StrategyKind::kMedian) {
    auto mid = values->begin() + static_cast<long>(n / 2);
    std::nth_element(values->begin(), mid, values->end());
    float hi = *mid;
    if (n % 2 == 1) return hi;
    float lo = *std::max_element(values->begin(), mid);
    return 0.5f * (lo + hi);
  }
  std::sort(values->begin(), values->end());
  size_t k = static_cast<size_t>(std::floor(trim * static_cast<double>(n)));
  if (2 * k >= n) k = (n - 1) / 2;
  double sum = 0;
  for (size_t i = k; i < n - k; ++i) sum += (*values)[i];
  return static_cast<float>(sum / static_cast<double>(n - 2 * k));
}

// Robust aggregate (median / trimmed mean) of one tensor over the updates allowed to contribute to it.
// Returns whether any update contributed.
bool AggregateTensor(const TensorShape& layout, const std::vector<ClientUpdate>& updates,
                     const std::vector<double>& clips, const StrategyOptions& options, NamedTensor* out) {
  const std::string source = AdapterSource(layout.name);
  std::vector<const float*> src;
  std::vector<float> scales;
  for (size_t i = 0; i < updates.size(); ++i) {
    if (const NamedTensor* t = Contribution(updates[i], layout.name, source)) {
      src.push_back(t->values.data());
      scales.push_back(static_cast<float>(clips[i]));
    }
  }
  out->name = layout.name;
  out->shape = layout.shape;
  int64_t n = 1;
  for (int64_t d : layout.shape) n *= d;
  out->values.assign(static_cast<size_t>(n), 0.0f);
  if (src.empty()) return false;
  RobustCombine(src, scales, out->values.size(), options.kind, options.trim_fraction, out->values.data());
  return true;
}

}  // namespace

absl::StatusOr<StrategyKind> ParseStrategy(const std::string& name) {
  if (name == "fedavg" || name.empty()) return StrategyKind::kFedAvg;
  if (name == "weighted_fedavg") return StrategyKind::kWeightedFedAvg;
  if (name == "median") return StrategyKind::kMedian;
  if (name == "trimmed_mean") return StrategyKind::kTrimmedMean;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown strategy '", name, "' (fedavg, weighted_fedavg, median, trimmed_mean)"));
}

std::string StrategyName(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kFedAvg: return "fedavg";
    case StrategyKind::kWeightedFedAvg: return "weighted_fedavg";
    case StrategyKind::kMedian: return "median";
    case StrategyKind::kTrimmedMean: return "trimmed_mean";
  }
  return "?";
}

void RobustCombine(const std::vector<const float*>& columns, const std::vector<float>& scales, size_t n,
                   StrategyKind kind, double trim, float* out) {
  std::vector<float> column(columns.size());
  for (size_t j = 0; j < n; ++j) {
    for (size_t m = 0; m < columns.size(); ++m) column[m] = columns[m][j] * scales[m];
    out[j] = RobustValue(&column, kind, trim);
  }
}

std::string AdapterSource(const std::string& tensor_name) {
  if (!absl::StartsWith(tensor_name, "adapter.")) return "";
  size_t dot = tensor_name.find('.', 8);
  return dot == std::string::npos ? "" : tensor_name.substr(8, dot - 8);
}

std::vector<double> CapWeightShares(std::vector<double> w, double share) {
  const size_t n = w.size();
  if (n < 2 || !(share > 0) || share >= 1) return w;
  const double cap = std::max(share, 1.0 / static_cast<double>(n));
  std::vector<bool> capped(n, false);
  // Each pass caps at least one more weight or stops, so n passes suffice.
  for (size_t pass = 0; pass < n; ++pass) {
    double fixed = 0, free_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      if (capped[i]) {
        fixed += cap;
      } else {
        free_sum += w[i];
      }
    }
    const double room = 1.0 - fixed;
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      if (capped[i]) continue;
      const double scaled = free_sum > 0 ? w[i] * room / free_sum : room;
      if (scaled > cap * (1 + 1e-12)) {
        capped[i] = true;
        changed = true;
      }
    }
    if (!changed) {
      for (size_t i = 0; i < n; ++i) w[i] = capped[i] ? cap : (free_sum > 0 ? w[i] * room / free_sum : 0);
      return w;
    }
  }
  return std::vector<double>(n, 1.0 / static_cast<double>(n));  // every weight capped: cap == 1/n
}

absl::StatusOr<std::vector<double>> ComputeWeights(const std::vector<UpdateStats>& stats,
                                                   const StrategyOptions& options) {
  if (stats.empty()) return absl::FailedPreconditionError("no updates to weigh");
  std::vector<double> samples, templates, imbalance;
  for (const auto& s : stats) {
    if (s.samples <= 0) return absl::InvalidArgumentError("an update reports no samples");
    const int64_t n = std::min(s.samples, kMaxUpdateSamples);
    samples.push_back(static_cast<double>(n));
    templates.push_back(static_cast<double>(std::clamp<int64_t>(s.distinct_templates, 0, n)));
    const double ratio = std::isfinite(s.imbalance_ratio) ? s.imbalance_ratio : 0.0;
    imbalance.push_back(std::log1p(std::clamp(ratio, 0.0, kMaxImbalanceRatio)));
  }
  switch (options.kind) {
    case StrategyKind::kFedAvg:
      return CapWeightShares(Normalise(samples), options.max_weight_share);
    case StrategyKind::kWeightedFedAvg: {
      const double a = options.weight_samples, b = options.weight_templates, c = options.weight_imbalance;
      if (a < 0 || b < 0 || c < 0 || a + b + c <= 0) {
        return absl::InvalidArgumentError("weighted_fedavg weights must be non-negative and not all zero");
      }
      samples = Normalise(samples);
      templates = Normalise(templates);
      imbalance = Normalise(imbalance);
      std::vector<double> w(stats.size());
      for (size_t i = 0; i < w.size(); ++i) w[i] = a * samples[i] + b * templates[i] + c * imbalance[i];
      return CapWeightShares(Normalise(w), options.max_weight_share);
    }
    case StrategyKind::kMedian:
    case StrategyKind::kTrimmedMean:
      return std::vector<double>(stats.size(), 1.0 / static_cast<double>(stats.size()));
  }
  return absl::InternalError("unknown strategy");
}

absl::StatusOr<TensorBundle> AggregateDeltas(const TensorBundle& global, const std::vector<ClientUpdate>& updates,
                                             const StrategyOptions& options, ClipDecision* clip) {
  if (updates.empty()) return absl::FailedPreconditionError("no updates to aggregate");
  if (options.trim_fraction < 0 || options.trim_fraction >= 0.5) {
    return absl::InvalidArgumentError("trim_fraction must be in [0, 0.5)");
  }
  // Output layout: the global tensors, then optional tensors new to it in order of first appearance.
  BundleLayout layout = LayoutOf(global);
  std::vector<UpdateStats> stats;
  for (const auto& u : updates) {
    if (u.delta == nullptr) return absl::InvalidArgumentError(absl::StrCat("update of ", u.site, " has no delta"));
    for (const auto& g : layout) {
      if (IsOptionalTensor(g.name)) continue;
      const NamedTensor* t = u.delta->Find(g.name);
      if (t == nullptr || t->shape != g.shape) {
        return absl::InvalidArgumentError(absl::StrCat("update of ", u.site, " does not match '", g.name, "'"));
      }
    }
    for (const auto& t : u.delta->tensors) {
      if (!IsOptionalTensor(t.name)) {
        if (global.Find(t.name) == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("update of ", u.site, " has unexpected '", t.name, "'"));
        }
        continue;
      }
      auto it = std::find_if(layout.begin(), layout.end(), [&](const TensorShape& s) { return s.name == t.name; });
      if (it == layout.end()) {
        layout.push_back({t.name, t.shape});
      } else if (it->shape != t.shape) {
        return absl::InvalidArgumentError(absl::StrCat("update of ", u.site, " has '", t.name, "' in another shape"));
      }
    }
    stats.push_back(u.stats);
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> weights, ComputeWeights(stats, options));
  std::vector<double> norms;
  // The norm of what each update contributes (its entitled parts, as from files: part_norms.h).
  for (const ClientUpdate& u : updates) norms.push_back(std::sqrt(PartNormsOf(*u.delta).Included(u.stats.sources)));
  FEDLOG_ASSIGN_OR_RETURN(ClipDecision decision, DecideClipping(norms, options.clip_norm,
                                                                options.adaptive_clip_multiple,
                                                                options.carried_reference));
  const std::vector<double>& clips = decision.scales;
  if (clip != nullptr) *clip = decision;
  if (options.kind == StrategyKind::kFedAvg || options.kind == StrategyKind::kWeightedFedAvg) {
    WeightedAverager averager(LayoutOf(global));
    for (size_t i = 0; i < updates.size(); ++i) {
      FEDLOG_RETURN_IF_ERROR(averager.Add(*updates[i].delta, weights[i], updates[i].stats.sources, clips[i]));
    }
    return averager.TakeMean();
  }
  TensorBundle out;
  out.tensors.reserve(layout.size());
  for (size_t t = 0; t < layout.size(); ++t) {
    NamedTensor r;
    // A tensor new to the model that nobody may contribute to stays out (as in WeightedAverager::TakeMean).
    if (AggregateTensor(layout[t], updates, clips, options, &r) || t < global.tensors.size()) {
      out.tensors.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace fedlog::fl
