#include "common/fl/server_optimizer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::fl {
namespace {

TensorBundle ZerosLike(const TensorBundle& b) {
  TensorBundle z = b;
  for (auto& t : z.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  return z;
}

}  // namespace

absl::StatusOr<ServerOptimizerKind> ParseServerOptimizer(const std::string& name) {
  if (name.empty() || name == "none") return ServerOptimizerKind::kNone;
  if (name == "fedadam") return ServerOptimizerKind::kFedAdam;
  if (name == "fedyogi") return ServerOptimizerKind::kFedYogi;
  return absl::InvalidArgumentError(absl::StrCat("unknown server optimizer '", name, "' (none, fedadam, fedyogi)"));
}

absl::StatusOr<TensorBundle> ApplyServerUpdate(const TensorBundle& global, const TensorBundle& delta,
                                               const ServerOptimizerOptions& o, ServerOptimizerState* state) {
  FEDLOG_RETURN_IF_ERROR(CheckSameLayout(global, delta));
  if (o.kind == ServerOptimizerKind::kNone) return AddScaled(global, delta, o.server_lr);
  if (!(o.lr > 0) || o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1 || !(o.tau > 0)) {
    return absl::InvalidArgumentError("server optimizer needs lr > 0, betas in [0, 1) and tau > 0");
  }
  if (state->m.tensors.empty()) {
    state->m = ZerosLike(global);
    state->v = ZerosLike(global);
    // Start v at tau^2 as in the paper's experiments, so the first steps are not huge.
    for (auto& t : state->v.tensors) std::fill(t.values.begin(), t.values.end(), static_cast<float>(o.tau * o.tau));
  }
  FEDLOG_RETURN_IF_ERROR(CheckSameLayout(global, state->m));
  FEDLOG_RETURN_IF_ERROR(CheckSameLayout(global, state->v));
  TensorBundle next = global;
  for (auto& t : next.tensors) {
    const float* d = delta.Find(t.name)->values.data();
    float* m = state->m.Find(t.name)->values.data();
    float* v = state->v.Find(t.name)->values.data();
    for (size_t j = 0; j < t.values.size(); ++j) {
      const double g = d[j];
      m[j] = static_cast<float>(o.beta1 * m[j] + (1 - o.beta1) * g);
      const double g2 = g * g;
      if (o.kind == ServerOptimizerKind::kFedAdam) {
        v[j] = static_cast<float>(o.beta2 * v[j] + (1 - o.beta2) * g2);
      } else {
        const double diff = v[j] - g2;
        v[j] = static_cast<float>(v[j] - (1 - o.beta2) * g2 * ((diff > 0) - (diff < 0)));
      }
      t.values[j] += static_cast<float>(o.lr * m[j] / (std::sqrt(std::max(0.0f, v[j])) + o.tau));
    }
  }
  ++state->steps;
  return next;
}

TensorBundle StateToBundle(const ServerOptimizerState& state) {
  TensorBundle b;
  for (const auto& t : state.m.tensors) b.tensors.push_back({"m." + t.name, t.shape, t.values});
  for (const auto& t : state.v.tensors) b.tensors.push_back({"v." + t.name, t.shape, t.values});
  b.tensors.push_back({"steps", {1}, {static_cast<float>(state.steps)}});
  return b;
}

absl::StatusOr<ServerOptimizerState> StateFromBundle(const TensorBundle& bundle) {
  ServerOptimizerState s;
  for (const auto& t : bundle.tensors) {
    if (absl::StartsWith(t.name, "m.")) {
      s.m.tensors.push_back({t.name.substr(2), t.shape, t.values});
    } else if (absl::StartsWith(t.name, "v.")) {
      s.v.tensors.push_back({t.name.substr(2), t.shape, t.values});
    } else if (t.name == "steps" && t.values.size() == 1) {
      s.steps = static_cast<int64_t>(t.values[0]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unexpected tensor '", t.name, "' in optimizer state"));
    }
  }
  if (s.m.tensors.size() != s.v.tensors.size()) return absl::InvalidArgumentError("optimizer state is incomplete");
  return s;
}

}  // namespace fedlog::fl
