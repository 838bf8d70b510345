#include "common/fl/server_optimizer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::fl {
absl::StatusOr<ServerOptimizerKind> ParseServerOptimizer(const std::string& name) {
  if (name.empty() || name == "none") return ServerOptimizerKind::kNone;
  if (name == "fedadam") return ServerOptimizerKind::kFedAdam;
  if (name == "fedyogi") return ServerOptimizerKind::kFedYogi;
  return absl::InvalidArgumentError(absl::StrCat("unknown server optimizer '", name, "' (none, fedadam, fedyogi)"));
}

absl::StatusOr<TensorBundle> ApplyServerUpdate(const TensorBundle& global, const TensorBundle& delta,
                                               const ServerOptimizerOptions& o, ServerOptimizerState* state) {
  TensorBundle next = delta;
  FEDLOG_RETURN_IF_ERROR(ApplyServerUpdateInPlace(global, o, state, &next));
  return next;
}

absl::Status PrepareServerUpdate(const BundleLayout& global, const ServerOptimizerOptions& o,
                                 ServerOptimizerState* state) {
  if (o.kind == ServerOptimizerKind::kNone) return absl::OkStatus();
  if (!(o.lr > 0) || o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1 || !(o.tau > 0)) {
    return absl::InvalidArgumentError("server optimizer needs lr > 0, betas in [0, 1) and tau > 0");
  }
  // Moments cover the shared tensors only (states written before optional tensors existed may hold some).
  auto drop_optional = [](TensorBundle* b) {
    b->tensors.erase(std::remove_if(b->tensors.begin(), b->tensors.end(),
                                    [](const NamedTensor& t) { return IsOptionalTensor(t.name); }),
                     b->tensors.end());
  };
  drop_optional(&state->m);
  drop_optional(&state->v);
  if (state->m.tensors.empty()) {
    TensorBundle shared;
    for (const auto& g : global) {
      if (!IsOptionalTensor(g.name)) shared.tensors.push_back({g.name, g.shape, {}});
    }
    for (auto& t : shared.tensors) t.values.assign(static_cast<size_t>(t.NumElements()), 0.0f);
    state->m = shared;
    // Start v at tau^2 as in the paper's experiments, so the first steps are not huge.
    for (auto& t : shared.tensors) std::fill(t.values.begin(), t.values.end(), static_cast<float>(o.tau * o.tau));
    state->v = std::move(shared);
  }
  FEDLOG_RETURN_IF_ERROR(CheckSameLayout(state->m, state->v));
  for (const auto& g : global) {
    if (IsOptionalTensor(g.name)) continue;
    const NamedTensor* m = state->m.Find(g.name);
    if (m == nullptr || m->shape != g.shape) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state does not match the model at '", g.name, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyServerUpdateSpan(const std::string& name, size_t offset, const float* base, size_t n,
                                   const ServerOptimizerOptions& o, ServerOptimizerState* state, float* x) {
  if (o.kind == ServerOptimizerKind::kNone || IsOptionalTensor(name)) {
    const float lr = IsOptionalTensor(name) ? 1.0f : static_cast<float>(o.server_lr);
    for (size_t j = 0; j < n; ++j) x[j] = base[j] + lr * x[j];
    return absl::OkStatus();
  }
  NamedTensor* mt = state->m.Find(name);
  NamedTensor* vt = state->v.Find(name);
  if (mt == nullptr || vt == nullptr || offset + n > mt->values.size() || offset + n > vt->values.size()) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer state does not match the model at '", name, "'"));
  }
  float* m = mt->values.data() + offset;
  float* v = vt->values.data() + offset;
  for (size_t j = 0; j < n; ++j) {
    const double d = x[j];
    m[j] = static_cast<float>(o.beta1 * m[j] + (1 - o.beta1) * d);
    const double d2 = d * d;
    if (o.kind == ServerOptimizerKind::kFedAdam) {
      v[j] = static_cast<float>(o.beta2 * v[j] + (1 - o.beta2) * d2);
    } else {
      const double diff = v[j] - d2;
      v[j] = static_cast<float>(v[j] - (1 - o.beta2) * d2 * ((diff > 0) - (diff < 0)));
    }
    x[j] = base[j] + static_cast<float>(o.lr * m[j] / (std::sqrt(std::max(0.0f, v[j])) + o.tau));
  }
  return absl::OkStatus();
}

void FinishServerUpdate(const ServerOptimizerOptions& o, ServerOptimizerState* state) {
  if (o.kind != ServerOptimizerKind::kNone) ++state->steps;
}

absl::Status ApplyServerUpdateInPlace(const TensorBundle& global, const ServerOptimizerOptions& o,
                                      ServerOptimizerState* state, TensorBundle* delta) {
  for (const auto& g : global.tensors) {
    const NamedTensor* d = delta->Find(g.name);
    if (d == nullptr || d->shape != g.shape || d->values.size() != g.values.size()) {
      return absl::InvalidArgumentError(absl::StrCat("aggregated delta does not match the model at '", g.name, "'"));
    }
  }
  FEDLOG_RETURN_IF_ERROR(PrepareServerUpdate(LayoutOf(global), o, state));
  for (auto& t : delta->tensors) {
    const NamedTensor* g = global.Find(t.name);
    if (g == nullptr) continue;  // an optional tensor new to the model: base 0, so next = delta
    FEDLOG_RETURN_IF_ERROR(ApplyServerUpdateSpan(t.name, 0, g->values.data(), t.values.size(), o, state,
                                                 t.values.data()));
  }
  FinishServerUpdate(o, state);
  return absl::OkStatus();
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
