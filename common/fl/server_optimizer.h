// Server-side optimisers (Reddi et al., "Adaptive Federated Optimization", ICLR 2021). The aggregated delta is
// treated as a pseudo-gradient step:
//   none:    x <- x + server_lr * delta
//   fedadam: m <- b1 m + (1-b1) d;  v <- b2 v + (1-b2) d^2;                 x <- x + lr * m / (sqrt(v) + tau)
//   fedyogi: m as above;            v <- v - (1-b2) d^2 sign(v - d^2);       x <- x + lr * m / (sqrt(v) + tau)
// The moments persist between rounds (the aggregator stores them as a bundle next to the model).
// Optional tensors (adapter.*, prototypes.*; tensor_bundle.h) skip the optimiser: they always take the plain
// averaged step x + delta (x = 0 for a tensor new to the model), and no moments are kept for them. Adapters come
// and go with the sites that run their source, and a per-source step is already an average over few sites.
// Thread-compatible.
#ifndef FEDLOG_COMMON_FL_SERVER_OPTIMIZER_H_
#define FEDLOG_COMMON_FL_SERVER_OPTIMIZER_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

enum class ServerOptimizerKind { kNone, kFedAdam, kFedYogi };

absl::StatusOr<ServerOptimizerKind> ParseServerOptimizer(const std::string& name);  // "", none, fedadam, fedyogi

struct ServerOptimizerOptions {
  ServerOptimizerKind kind = ServerOptimizerKind::kNone;
  double server_lr = 1.0;  // for kNone: 1.0 is plain FedAvg
  double lr = 1e-2;        // eta for the adaptive optimisers
  double beta1 = 0.9;
  double beta2 = 0.99;
  double tau = 1e-3;
};

// Moments of the adaptive optimisers; empty before the first step.
struct ServerOptimizerState {
  TensorBundle m;
  TensorBundle v;
  int64_t steps = 0;
};

// Returns the next global model and advances `state`. The delta must carry every tensor of `global` (same
// shapes) and may carry optional tensors `global` lacks.
absl::StatusOr<TensorBundle> ApplyServerUpdate(const TensorBundle& global, const TensorBundle& delta,
                                               const ServerOptimizerOptions& options, ServerOptimizerState* state);
// The same in place: `*delta` becomes the next model (no second model-sized buffer).
absl::Status ApplyServerUpdateInPlace(const TensorBundle& global, const ServerOptimizerOptions& options,
                                      ServerOptimizerState* state, TensorBundle* delta);

// The same for a global model read tensor by tensor, so that it is never whole in memory: PrepareServerUpdate
// once (checks the options; creates the moments or checks them against `global`), ApplyServerUpdateSpan for
// each run of values of each tensor of the global model, FinishServerUpdate once. Together they compute exactly
// what ApplyServerUpdateInPlace does. A span: `x[0, n)` holds the delta of tensor `name` from element `offset`
// on and becomes the next model's values; `base` holds the global model's values there.
absl::Status PrepareServerUpdate(const BundleLayout& global, const ServerOptimizerOptions& options,
                                 ServerOptimizerState* state);
absl::Status ApplyServerUpdateSpan(const std::string& name, size_t offset, const float* base, size_t n,
                                   const ServerOptimizerOptions& options, ServerOptimizerState* state, float* x);
void FinishServerUpdate(const ServerOptimizerOptions& options, ServerOptimizerState* state);

// State <-> one bundle ("m.<name>", "v.<name>", and "steps" as a 1-element tensor) for storage.
TensorBundle StateToBundle(const ServerOptimizerState& state);
absl::StatusOr<ServerOptimizerState> StateFromBundle(const TensorBundle& bundle);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_SERVER_OPTIMIZER_H_
