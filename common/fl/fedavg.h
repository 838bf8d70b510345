// Weighted federated averaging of model deltas (FedAvg, McMahan et al. 2017): the new global model is
// global + sum_i w_i * delta_i / sum_i w_i, with w_i = the site's sample count. Updates are added one at a
// time so the aggregator holds the accumulator plus one update, never all of them.
// Thread-compatible: one averager per round, used from one thread.
#ifndef FEDLOG_COMMON_FL_FEDAVG_H_
#define FEDLOG_COMMON_FL_FEDAVG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

struct UpdateCheckOptions {
  double max_norm = 0;  // refuse deltas whose L2 norm exceeds this; 0 = no bound
};

// Validates an untrusted delta against the global model it claims to apply to: same tensor names and shapes,
// finite values, norm bound. The returned error says why, for the site's refusal message and the logs.
absl::Status CheckUpdate(const TensorBundle& global, const TensorBundle& delta,
                         const UpdateCheckOptions& options = {});

class WeightedAverager {
 public:
  // `layout` gives the tensor names and shapes every update must have (normally the global model).
  explicit WeightedAverager(const TensorBundle& layout);

  // Adds `delta` with `weight` > 0, each value multiplied by `scale` (a clipping factor; the weight is not).
  // Shared tensors take every update; a tensor named adapter.<source>.* takes only updates whose `sources`
  // include <source>. The delta must already have passed CheckUpdate against the layout.
  absl::Status Add(const TensorBundle& delta, double weight, const std::vector<std::string>& sources = {},
                   double scale = 1.0);

  int count() const { return count_; }
  double total_weight() const { return total_weight_; }

  // The weighted mean of the added deltas, per tensor over the updates that contributed to it (zero for a
  // tensor nobody contributed to). FailedPrecondition when nothing was added.
  absl::StatusOr<TensorBundle> Mean() const;

 private:
  TensorBundle layout_;
  std::vector<std::vector<double>> sums_;  // parallel to layout_.tensors
  std::vector<double> tensor_weight_;      // weight that reached each tensor
  std::vector<std::string> source_;        // adapter source of each tensor, "" when shared
  double total_weight_ = 0;
  int count_ = 0;
};

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_FEDAVG_H_
