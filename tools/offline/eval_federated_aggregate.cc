// Aggregation of one simulated round, the aggregator's way: each update's delta against the global
// model (the full value for an optional adapter.* / prototypes.* tensor the global model lacks),
// then fl::AggregateDeltas, which averages shared tensors over every update and each optional
// tensor over the updates carrying it (common/fl/strategy.h).
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fl/part_norms.h"
#include "common/fl/strategy.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline {
namespace {

// `weights` minus `global` tensor by tensor; tensors `global` lacks are copied whole.
absl::StatusOr<fl::TensorBundle> DeltaAgainst(const fl::TensorBundle& global,
                                              const fl::TensorBundle& weights) {
  fl::TensorBundle delta;
  for (const fl::NamedTensor& t : weights.tensors) {
    fl::NamedTensor d = t;
    if (const fl::NamedTensor* g = global.Find(t.name); g != nullptr) {
      if (g->shape != t.shape || g->values.size() != t.values.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor ", t.name, ": shape differs from the global model's"));
      }
      for (size_t i = 0; i < d.values.size(); ++i) d.values[i] -= g->values[i];
    }
    delta.tensors.push_back(std::move(d));
  }
  return delta;
}

// `delta`'s contribution split into parts: the shared part, the entitled adapters `global` has, and each
// entitled adapter `global` lacks.
UpdatePartNorms PartsOf(const fl::TensorBundle& global, const SiteUpdate& update, const fl::TensorBundle& delta) {
  const fl::PartNorms squared = fl::PartNormsOf(delta);
  UpdatePartNorms out;
  out.site = update.site;
  out.norm = std::sqrt(squared.Included(update.sources));
  out.shared = std::sqrt(squared.shared);
  std::set<std::string> in_model;  // sources with an adapter.<source>.* tensor in `global`
  for (const fl::NamedTensor& t : global.tensors) {
    if (std::string source = fl::AdapterSource(t.name); !source.empty()) in_model.insert(std::move(source));
  }
  double known = 0;
  for (const auto& [source, sq] : squared.adapters) {
    if (std::find(update.sources.begin(), update.sources.end(), source) == update.sources.end()) continue;
    if (in_model.count(source) > 0) {
      known += sq;
    } else {
      out.new_adapters[source] = std::sqrt(sq);
    }
  }
  out.known_adapters = std::sqrt(known);
  return out;
}

}  // namespace

absl::StatusOr<fl::TensorBundle> AggregateRound(const fl::TensorBundle& global,
                                                const std::vector<SiteUpdate>& updates,
                                                const std::string& strategy, double* shared_norm,
                                                double clip_multiple, fl::ClipDecision* clip,
                                                std::vector<UpdatePartNorms>* parts) {
  if (updates.empty()) return absl::FailedPreconditionError("no updates to aggregate");
  if (clip == nullptr) return absl::InvalidArgumentError("AggregateRound needs a ClipDecision");
  fl::StrategyOptions options;
  FEDLOG_ASSIGN_OR_RETURN(options.kind, fl::ParseStrategy(strategy));
  options.adaptive_clip_multiple = clip_multiple;
  options.carried_reference = clip->reference;
  std::vector<fl::TensorBundle> deltas(updates.size());
  std::vector<fl::ClientUpdate> clients;
  for (size_t i = 0; i < updates.size(); ++i) {
    if (updates[i].weights == nullptr) return absl::InvalidArgumentError("update without weights");
    FEDLOG_ASSIGN_OR_RETURN(deltas[i], DeltaAgainst(global, *updates[i].weights));
    fl::UpdateStats stats{updates[i].samples, updates[i].distinct_templates,
                          updates[i].imbalance_ratio, updates[i].sources};
    clients.push_back({absl::StrCat("site-update-", i), &deltas[i], stats});
  }
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle mean, fl::AggregateDeltas(global, clients, options, clip));
  if (parts != nullptr) {
    parts->clear();
    for (size_t i = 0; i < updates.size(); ++i) parts->push_back(PartsOf(global, updates[i], deltas[i]));
    for (size_t i = 0; i < parts->size() && i < clip->scales.size(); ++i) (*parts)[i].scale = clip->scales[i];
  }
  double norm = 0;
  for (fl::NamedTensor& t : mean.tensors) {
    if (!fl::IsOptionalTensor(t.name)) {
      for (float v : t.values) norm += double{v} * v;
    }
    if (const fl::NamedTensor* g = global.Find(t.name); g != nullptr) {
      for (size_t i = 0; i < t.values.size(); ++i) t.values[i] += g->values[i];
    }
  }
  if (shared_norm != nullptr) *shared_norm = std::sqrt(norm);
  return mean;
}

}  // namespace fedlog::offline
