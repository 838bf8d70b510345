// Line-level DP-SGD: options, accounting and the step's sampling and clipped noisy sum (dp_sgd.h,
// dp_sgd_step.h). The training loops are in dp_sgd_train.cc.
#include "common/model/dp_sgd.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/base/status_macros.h"
#include "common/model/dp_sgd_step.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/rdp_accountant.h"

namespace fedlog::model {

absl::Status ValidateLineDpOptions(const LineDpOptions& o) {
  if (!std::isfinite(o.noise_multiplier) || o.noise_multiplier < 0) {
    return absl::InvalidArgumentError("line DP: noise multiplier must be finite and >= 0");
  }
  if (!std::isfinite(o.clip) || !(o.clip > 0)) {
    return absl::InvalidArgumentError("line DP: clip must be finite and > 0");
  }
  if (!(o.delta > 0 && o.delta < 1)) {
    return absl::InvalidArgumentError("line DP: delta must be in (0, 1)");
  }
  if (o.contrastive_lines_per_microbatch < 2 || o.meta_lines_per_microbatch < 2) {
    return absl::InvalidArgumentError("line DP: micro-batches need >= 2 lines");
  }
  if (!std::isfinite(o.encoder_lr_ratio) || !(o.encoder_lr_ratio > 0)) {
    return absl::InvalidArgumentError("line DP: encoder learning-rate ratio must be finite, > 0");
  }
  if (!(o.anomalous_rate > 0 && o.anomalous_rate <= 1) || o.normal_lines_per_step < 1) {
    return absl::InvalidArgumentError(
        "line DP: anomalous rate must be in (0, 1] and normal lines per step >= 1");
  }
  if (o.prototype_noise != 0 && !privacy::IsValidClassSumNoise(o.prototype_noise)) {
    return absl::InvalidArgumentError("line DP: class-sum noise must be 0 (no release) or in [0.01, 1e6]");
  }
  if (o.prototype_noise_shares < 1 || o.prototype_noise_shares > 4096) {
    return absl::InvalidArgumentError("line DP: the class-sum noise is shared by 1..4096 sites");
  }
  return absl::OkStatus();
}

absl::StatusOr<LabeledDpObjective> ParseLabeledDpObjective(const std::string& name) {
  if (name == "per_line") return LabeledDpObjective::kPerLine;
  if (name == "episodes") return LabeledDpObjective::kEpisodes;
  return absl::InvalidArgumentError("line DP objective must be per_line or episodes");
}

const char* LabeledDpObjectiveName(LabeledDpObjective objective) {
  return objective == LabeledDpObjective::kPerLine ? "per_line" : "episodes";
}

absl::StatusOr<DpScope> ParseDpScope(const std::string& name) {
  if (name == "adapters") return DpScope::kAdapters;
  if (name == "all") return DpScope::kAll;
  return absl::InvalidArgumentError("line DP scope must be adapters or all");
}

const char* DpScopeName(DpScope scope) {
  return scope == DpScope::kAdapters ? "adapters" : "all";
}

std::vector<LineDpPhase> PlanLineDpRound(const LineDpOptions& dp, int contrastive_steps,
                                         int meta_iterations, int batch_size, int64_t lines,
                                         int64_t labeled, bool meta_learnable) {
  std::vector<LineDpPhase> phases;
  const double sigma = dp.noise_multiplier;
  if (dp.contrastive && contrastive_steps > 0 && lines >= 2) {
    const int64_t expected = std::min<int64_t>(batch_size, lines);
    phases.push_back({"contrastive", static_cast<double>(expected) / static_cast<double>(lines),
                      sigma, contrastive_steps});
  }
  if (meta_iterations <= 0 || labeled <= 0) return phases;
  if (dp.labeled_objective == LabeledDpObjective::kPerLine) {
    phases.push_back({"per_line", dp.anomalous_rate, sigma, meta_iterations});
  } else if (meta_learnable) {
    const int64_t expected = std::min<int64_t>(8LL * dp.meta_lines_per_microbatch, labeled);
    phases.push_back({"meta", static_cast<double>(expected) / static_cast<double>(labeled), sigma,
                      meta_iterations});
  }
  return phases;
}

absl::StatusOr<double> LineDpEpsilon(absl::Span<const LineDpPhase> phases, double delta) {
  const std::vector<double> orders = privacy::DefaultOrders();
  std::vector<double> total(orders.size(), 0.0);
  bool any = false;
  for (const LineDpPhase& p : phases) {
    if (p.steps < 0) return absl::InvalidArgumentError("line DP: steps must be >= 0");
    if (p.steps == 0 || p.q == 0) continue;
    FEDLOG_ASSIGN_OR_RETURN(std::vector<double> rdp,
                            privacy::SampledGaussianRdp(p.q, p.sigma, p.steps, orders));
    for (size_t i = 0; i < total.size(); ++i) total[i] += rdp[i];
    any = true;
  }
  if (!any) return 0.0;
  FEDLOG_ASSIGN_OR_RETURN(privacy::EpsilonAtOrder eps, privacy::RdpToEpsilon(orders, total, delta));
  return eps.epsilon;
}

absl::StatusOr<double> NoiseMultiplierForEpsilon(std::vector<LineDpPhase> phases,
                                                 double target_epsilon, double delta) {
  if (!(target_epsilon > 0) || !std::isfinite(target_epsilon)) {
    return absl::InvalidArgumentError("target epsilon must be finite and > 0");
  }
  auto epsilon_at = [&](double sigma) -> absl::StatusOr<double> {
    for (LineDpPhase& p : phases) p.sigma = sigma;
    return LineDpEpsilon(phases, delta);
  };
  double lo = 0.1, hi = 1000;
  FEDLOG_ASSIGN_OR_RETURN(double eps_hi, epsilon_at(hi));
  if (eps_hi > target_epsilon) {
    return absl::InvalidArgumentError("target epsilon not reachable with sigma <= 1000");
  }
  FEDLOG_ASSIGN_OR_RETURN(double eps_lo, epsilon_at(lo));
  if (eps_lo <= target_epsilon) return lo;
  while (hi - lo > 1e-3 * lo) {  // epsilon falls as sigma grows
    const double mid = 0.5 * (lo + hi);
    FEDLOG_ASSIGN_OR_RETURN(double eps, epsilon_at(mid));
    (eps > target_epsilon ? lo : hi) = mid;
  }
  return hi;
}

std::vector<std::vector<int64_t>> PoissonMicrobatches(int64_t n, double q, int slots,
                                                      privacy::GaussianSampler& sampler) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(std::max(1, slots)));
  constexpr double kTwoTo53 = 9007199254740992.0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(sampler.NextUint64() >> 11) / kTwoTo53;  // [0, 1)
    if (u >= q) continue;
    // Modulo bias is below slots / 2^64: immaterial for a handful of slots.
    out[sampler.NextUint64() % out.size()].push_back(i);
  }
  return out;
}

ClippedGradientSum::ClippedGradientSum(std::vector<torch::Tensor> params, double microbatch_clip)
    : params_(std::move(params)), clip_(microbatch_clip) {
  for (const torch::Tensor& p : params_) sum_.push_back(torch::zeros_like(p).detach());
}

double ClippedGradientSum::Accumulate() {
  torch::NoGradGuard no_grad;
  // A sparse gradient (embed.weight's) may list a row more than once: the norm is the coalesced
  // one's (summing the squares of duplicate entries would understate it and break the bound).
  std::vector<torch::Tensor> grads;
  double squared = 0;
  for (torch::Tensor& p : params_) {
    torch::Tensor g = p.grad();
    if (g.defined() && g.is_sparse()) g = g.coalesce();
    if (g.defined()) {
      const torch::Tensor v = g.is_sparse() ? g._values() : g;
      squared += v.to(torch::kDouble).pow(2).sum().item<double>();
    }
    grads.push_back(g);
    p.mutable_grad() = torch::Tensor();
  }
  const double norm = std::sqrt(squared);
  const double scale = norm > clip_ ? clip_ / norm : 1.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& g = grads[i];
    if (!g.defined()) continue;
    if (g.is_sparse()) {
      sum_[i].index_add_(0, g._indices()[0], g._values().to(sum_[i].dtype()) * scale);
    } else {
      sum_[i].add_(g, scale);
    }
  }
  return norm;
}

void ClippedGradientSum::WriteNoisyMean(double noise_std, double denominator,
                                        privacy::GaussianSampler& sampler) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor noise = torch::zeros(sum_[i].sizes(), torch::kFloat32);  // CPU, contiguous
    sampler.AddNoise(absl::MakeSpan(noise.data_ptr<float>(), static_cast<size_t>(noise.numel())),
                     noise_std);
    params_[i].mutable_grad() = (sum_[i] + noise.to(sum_[i].device())) / denominator;
    sum_[i].zero_();
  }
}

}  // namespace fedlog::model
