// Aggregation of one simulated round, the aggregator's way: each update's delta against the global
// model (the full value for an optional adapter.* / prototypes.* tensor the global model lacks),
// then fl::AggregateDeltas, which averages shared tensors over every update and each optional
// tensor over the updates carrying it (common/fl/strategy.h).
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
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

}  // namespace

absl::StatusOr<fl::TensorBundle> AggregateRound(const fl::TensorBundle& global,
                                                const std::vector<SiteUpdate>& updates,
                                                const std::string& strategy, double* shared_norm,
                                                double clip_multiple, fl::ClipDecision* clip) {
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
