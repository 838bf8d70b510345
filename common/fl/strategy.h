// Aggregation strategies over model deltas, pure C++ (no torch). Given the global model and the round's
// validated updates, a strategy returns the aggregated delta. Shared parameters are aggregated over all updates;
// optional ones (`adapter.*`, `prototypes.*`, see tensor_bundle.h) only over the updates that carry them, and
// `adapter.<source>.*` only over sites that report that source. An update may carry an optional tensor the
// global model lacks (its delta is the full value); the tensor then enters the aggregate.
//
//   fedavg           mean weighted by sample count (McMahan et al. 2017)
//   weighted_fedavg  weights = a*samples + b*templates + c*imbalance, each term normalised over the round
//                    (defaults 0.3 / 0.4 / 0.3); imbalance enters as log1p(ratio) so one extreme site cannot dominate
//   median           coordinate-wise median (Yin et al. 2018); ignores weights
//   trimmed_mean     coordinate-wise mean after dropping the trim_fraction largest and smallest values
// The two robust statistics need every update's value of a coordinate at once; RobustCombine works on a block of
// coordinates so a caller can bound memory by streaming column blocks (common/fl/stream_aggregate.cc).
// Optional per-update L2 clipping scales a delta down before aggregation: to a fixed bound (clip_norm > 0) and/or
// to adaptive_clip_multiple x the round's reference norm (common/fl/adaptive_clip.h).
// Thread-compatible: stateless functions over const inputs.
#ifndef FEDLOG_COMMON_FL_STRATEGY_H_
#define FEDLOG_COMMON_FL_STRATEGY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/adaptive_clip.h"
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
  const TensorBundle* delta = nullptr;  // not owned; already checked with CheckUpdate (or UpdateChecker)
  UpdateStats stats;
};

struct StrategyOptions {
  StrategyKind kind = StrategyKind::kFedAvg;
  double weight_samples = 0.3;
  double weight_templates = 0.4;
  double weight_imbalance = 0.3;
  double trim_fraction = 0.1;  // per side, for kTrimmedMean; in [0, 0.5)
  double clip_norm = 0;        // 0 = no clipping
  // Adaptive clipping (adaptive_clip.h): M, 0 = off (the library's default; the aggregator and `fedlog eval
  // federated` pass kDefaultAdaptiveClipMultiple), and the reference carried from the previous round, 0 = none.
  double adaptive_clip_multiple = 0;
  double carried_reference = 0;
  // Largest share of the round's total weight one update may have (fedavg / weighted_fedavg), applied when
  // at least two updates are averaged; 0 or >= 1 = no cap. With n updates the effective cap is
  // max(share, 1/n), so the weights can always sum to 1.
  double max_weight_share = 0;
};

// Bounds on the statistics a strategy trusts (docs/SECURITY-aggregation.md). The aggregator refuses updates
// outside them; ComputeWeights also clamps what it reads to them.
inline constexpr int64_t kMaxUpdateSamples = int64_t{1} << 40;  // ~1.1e12; sums of 2^20 such fit an int64
inline constexpr double kMaxImbalanceRatio = 1e6;

// Caps `weights` (non-negative, summing to 1) so that none exceeds max(share, 1/n), moving the excess to the
// others in proportion to their weights (water-filling: the order of the weights does not matter, and
// uncapped weights keep their ratios). No-op for share <= 0, share >= 1 or fewer than 2 weights.
std::vector<double> CapWeightShares(std::vector<double> weights, double share);

// The per-update weights of `kind` (summing to 1). fedavg: samples; weighted_fedavg: the blend above, with
// templates counted at most samples and the imbalance ratio at most kMaxImbalanceRatio; then each capped by
// max_weight_share. median / trimmed_mean: uniform (they do not use weights).
absl::StatusOr<std::vector<double>> ComputeWeights(const std::vector<UpdateStats>& stats,
                                                   const StrategyOptions& options);

// Source type of an adapter parameter ("adapter.HDFS.down.weight" -> "HDFS"), or "" for shared parameters.
std::string AdapterSource(const std::string& tensor_name);

// Median (kMedian) or trimmed mean (kTrimmedMean, `trim` per side) of coordinates [0, n) over `columns`, each
// column's values multiplied by its `scales` entry first; written to out[0, n). `columns` must not be empty.
void RobustCombine(const std::vector<const float*>& columns, const std::vector<float>& scales, size_t n,
                   StrategyKind kind, double trim, float* out);

// Aggregated delta: the tensors of `global` in order, then optional tensors new to it in the order they first
// appear. Tensors no update may contribute to (an adapter whose source no participant runs) get a zero delta.
// Every update must carry every shared tensor of `global`. FailedPrecondition when `updates` is empty. `clip`,
// when given, receives the round's clipping (DecideClipping over the norms of what the updates contribute:
// shared tensors and the adapters of their stats.sources, part_norms.h).
absl::StatusOr<TensorBundle> AggregateDeltas(const TensorBundle& global, const std::vector<ClientUpdate>& updates,
                                             const StrategyOptions& options, ClipDecision* clip = nullptr);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_STRATEGY_H_
