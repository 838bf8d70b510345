// Aggregation strategies over model deltas, pure C++ (no torch). Given the global model and the round's
// validated updates, a strategy returns the aggregated delta. Parameters named `adapter.<source>.*` are
// aggregated only over the updates of sites that report that source; the rest ("shared") over all updates.
//
//   fedavg           mean weighted by sample count (McMahan et al. 2017)
//   weighted_fedavg  weights = a*samples + b*templates + c*imbalance, each term normalised over the round
//                    (defaults 0.3 / 0.4 / 0.3); imbalance enters as log1p(ratio) so one extreme site cannot dominate
//   median           coordinate-wise median (Yin et al. 2018); ignores weights
//   trimmed_mean     coordinate-wise mean after dropping the trim_fraction largest and smallest values
// Optional per-update L2 clipping (clip_norm > 0) scales a delta down to the bound before aggregation.
// Thread-compatible: stateless functions over const inputs.
#ifndef FEDLOG_COMMON_FL_STRATEGY_H_
#define FEDLOG_COMMON_FL_STRATEGY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

enum class StrategyKind { kFedAvg, kWeightedFedAvg, kMedian, kTrimmedMean };

absl::StatusOr<StrategyKind> ParseStrategy(const std::string& name);
std::string StrategyName(StrategyKind kind);

struct UpdateStats {
  int64_t samples = 0;
  int64_t distinct_templates = 0;
  double imbalance_ratio = 1.0;       // majority : minority; 1 when balanced or unknown
  std::vector<std::string> sources;   // source types the site runs, e.g. {"HDFS", "BGL"}
};

struct ClientUpdate {
  std::string site;
  const TensorBundle* delta = nullptr;  // not owned; already checked with CheckUpdate
  UpdateStats stats;
};

struct StrategyOptions {
  StrategyKind kind = StrategyKind::kFedAvg;
  double weight_samples = 0.3;
  double weight_templates = 0.4;
  double weight_imbalance = 0.3;
  double trim_fraction = 0.1;  // per side, for kTrimmedMean; in [0, 0.5)
  double clip_norm = 0;        // 0 = no clipping
};

// The per-update weights of `kind` (summing to 1). fedavg: samples; weighted_fedavg: the blend above;
// median / trimmed_mean: uniform (they do not use weights).
absl::StatusOr<std::vector<double>> ComputeWeights(const std::vector<UpdateStats>& stats,
                                                   const StrategyOptions& options);

// Source type of an adapter parameter ("adapter.HDFS.down.weight" -> "HDFS"), or "" for shared parameters.
std::string AdapterSource(const std::string& tensor_name);

// Aggregated delta with the layout of `global`. Tensors no update may contribute to (an adapter whose source
// no participant runs) get a zero delta. FailedPrecondition when `updates` is empty.
absl::StatusOr<TensorBundle> AggregateDeltas(const TensorBundle& global, const std::vector<ClientUpdate>& updates,
                                             const StrategyOptions& options);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_STRATEGY_H_
