// The training loops of line-level DP-SGD (dp_sgd.h): contrastive pre-training and meta-learning
// with per-micro-batch clipping and CSPRNG Gaussian noise on every step.
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/match.h"
#include "common/base/status_macros.h"
#include "common/model/dp_sgd.h"
#include "common/model/dp_sgd_step.h"
#include "common/model/encoder.h"
#include "common/model/losses.h"
#include "common/model/maml.h"
#include "common/model/mlp_autoencoder.h"

namespace fedlog::model {

DpParams SplitParams(Encoder& net, bool with_head, bool train_embedding, double prox_mu) {
  DpParams out;
  for (auto& item : net->named_parameters()) {
    torch::Tensor p = item.value();
    if ((item.key() == "embed.weight" && !train_embedding) ||
        (!with_head && absl::StartsWith(item.key(), "head."))) {
      p.requires_grad_(false);
      continue;
    }
    if (absl::StartsWith(item.key(), "head.")) {
      out.head.push_back(p);
    } else if (absl::StartsWith(item.key(), "adapter.")) {
      out.adapters.push_back(p);
    } else {
      out.encoder.push_back(p);
      if (prox_mu > 0) out.prox.emplace_back(p, p.detach().clone());
    }
  }
  return out;
}

double AddProx(const DpParams& params, double mu) {
  torch::NoGradGuard no_grad;
  double value = 0;
  for (const auto& [p, anchor] : params.prox) {
    torch::Tensor diff = p - anchor;
    value += 0.5 * mu * diff.pow(2).sum().item<double>();
    const_cast<torch::Tensor&>(p).mutable_grad().add_(diff, mu);
  }
  return value;
}

double TailMean(const std::vector<double>& losses) {
  if (losses.empty()) return 0;
  const size_t tail = std::min<size_t>(10, losses.size());
  return std::accumulate(losses.end() - tail, losses.end(), 0.0) / static_cast<double>(tail);
}

namespace {

int Slots(int64_t expected_lines, int lines_per_microbatch) {
  return std::max<int>(
      1, static_cast<int>(std::lround(static_cast<double>(expected_lines) / lines_per_microbatch)));
}

absl::StatusOr<ContrastiveResult> DpContrastiveImpl(const EncoderSpec& spec,
                                                    const fl::TensorBundle& start,
                                                    const LineSet& lines,
                                                    const ContrastiveOptions& o,
                                                    const LineDpOptions& dp, LineDpPhase* phase) {
  FEDLOG_RETURN_IF_ERROR(ValidateLineDpOptions(dp));
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  if (o.steps <= 0 || o.batch_size < 2 || lines.size() < 2) {
    return absl::InvalidArgumentError("DP contrastive: steps > 0, batch >= 2 and >= 2 lines");
  }
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, start, device));
  const auto t0 = std::chrono::steady_clock::now();
  net->train();
  DpParams params = SplitParams(net, /*with_head=*/true, dp.train_embedding, o.prox_mu);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(params.encoder, std::make_unique<torch::optim::AdamOptions>(
                                          o.head_lr * dp.encoder_lr_ratio));
  if (!params.adapters.empty())
    groups.emplace_back(params.adapters, std::make_unique<torch::optim::AdamOptions>(o.adapter_lr));
  groups.emplace_back(params.head, std::make_unique<torch::optim::AdamOptions>(o.head_lr));
  torch::optim::Adam opt(std::move(groups), torch::optim::AdamOptions(o.head_lr));
  ClippedGradientSum sum(params.All(), dp.clip / 2);
  const int64_t expected = std::min<int64_t>(o.batch_size, lines.size());
  const double q = static_cast<double>(expected) / static_cast<double>(lines.size());
  const int slots = Slots(expected, dp.contrastive_lines_per_microbatch);
  std::mt19937_64 rng(o.runtime.seed);  // augmentation only: part of each line's own function
  std::vector<double> losses;
  for (int step = 0; step < o.steps; ++step) {
    double loss_sum = 0;
    for (const std::vector<int64_t>& rows : PoissonMicrobatches(lines.size(), q, slots, sampler)) {
      if (rows.size() < 2) continue;  // one line: its views are each other's only partner, loss 0
      LineSet picked = SelectLines(lines, rows);
      EncoderInput in1 =
          MakeEncoderInput(spec, AugmentView(picked, o.augment, spec.vocab_buckets, rng), device);
      EncoderInput in2 =
          MakeEncoderInput(spec, AugmentView(picked, o.augment, spec.vocab_buckets, rng), device);
      in1.sparse_grad = in2.sparse_grad = true;  // embed.weight: rows of these lines only
      torch::Tensor z = torch::cat({net->forward(in1), net->forward(in2)}, 0);
      torch::Tensor h = torch::nn::functional::normalize(
          net->project(z), torch::nn::functional::NormalizeFuncOptions().dim(1));
      torch::Tensor loss =
          InfoNceLoss(h, ContrastivePositives(picked, o.template_alignment, device), o.temperature);
      loss.backward();
      sum.Accumulate();
      loss_sum += loss.item<double>();
    }
    sum.WriteNoisyMean(dp.noise_multiplier * dp.clip, slots, sampler);
    const double prox = AddProx(params, o.prox_mu);
    opt.step();
    losses.push_back(loss_sum / slots + prox);
  }
  *phase = LineDpPhase{"contrastive", q, dp.noise_multiplier, o.steps};
  ContrastiveResult result;
  result.initial_loss = losses.front();
  result.final_loss = TailMean(losses);
  result.steps = o.steps;
  for (auto& item : net->named_parameters()) item.value().requires_grad_(true);
  result.weights = ToBundle(*net);
  result.device = device.str();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

// One binary episode from a micro-batch's lines: each line a support or a query line by a fair
// coin. Undefined loss when the support set lacks a class or there is no query line.
torch::Tensor MicrobatchEpisodeLoss(const ParamMap& slow, const EncoderSpec& spec,
                                    const LineSet& lines, const std::vector<int64_t>& rows,
                                    const MetaOptions& o, privacy::GaussianSampler& sampler,
                                    const torch::Device& device) {
  std::vector<int64_t> support, query, s_labels, q_labels;
  bool has[2] = {false, false};
  for (int64_t r : rows) {
    const int64_t y = lines.labels[r] > 0 ? 1 : 0;
    if (sampler.NextUint64() & 1) {
      support.push_back(r);
      s_labels.push_back(y);
      has[y] = true;
    } else {
      query.push_back(r);
      q_labels.push_back(y);
    }
  }
  if (!has[0] || !has[1] || query.empty()) return torch::Tensor();
  EncoderInput s = MakeEncoderInput(spec, SelectLines(lines, support), device);
  EncoderInput q = MakeEncoderInput(spec, SelectLines(lines, query), device);
  s.sparse_grad = q.sparse_grad = true;  // the inner loop does not adapt embed.weight
  torch::Tensor sl = torch::tensor(s_labels, torch::kInt64).to(device);
  torch::Tensor ql = torch::tensor(q_labels, torch::kInt64).to(device);
  InnerLoopOptions inner;
  inner.steps = o.inner_steps;
  inner.lr = o.inner_lr;
  inner.first_order = o.first_order;
  inner.distance_scale = o.distance_scale;
  ParamMap fast = o.inner_steps > 0 ? InnerAdapt(slow, spec, s, sl, 2, inner, true) : slow;
  return QueryLoss(fast, spec, s, sl, q, ql, 2, o.distance_scale, o.hybrid_loss, o.triplet_margin);
}

absl::StatusOr<MetaResult> DpMetaImpl(const EncoderSpec& spec, const fl::TensorBundle& start,
                                      const LineSet& lines, const MetaOptions& o,
                                      const LineDpOptions& dp, LineDpPhase* phase) {
  FEDLOG_RETURN_IF_ERROR(ValidateLineDpOptions(dp));
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  if (o.meta_iterations <= 0 || o.meta_batch <= 0 || o.inner_steps < 0 || lines.size() == 0 ||
      static_cast<int64_t>(lines.labels.size()) != lines.size()) {
    return absl::InvalidArgumentError("DP meta-learning: iterations, batch > 0 and labeled lines");
  }
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, start, device));
  const auto t0 = std::chrono::steady_clock::now();
  net->train();
  DpParams params = SplitParams(net, /*with_head=*/false, dp.train_embedding, o.prox_mu);
  torch::optim::Adam opt(params.All(), torch::optim::AdamOptions(o.meta_lr));
  ClippedGradientSum sum(params.All(), dp.clip / 2);
  const int64_t expected = std::min<int64_t>(
      static_cast<int64_t>(o.meta_batch) * dp.meta_lines_per_microbatch, lines.size());
  const double q = static_cast<double>(expected) / static_cast<double>(lines.size());
  const int slots = o.meta_batch;
  MetaResult result;
  std::vector<double> losses;
  for (int it = 0; it < o.meta_iterations; ++it) {
    ParamMap slow = ParamsOf(*net);
    double loss_sum = 0;
    for (const std::vector<int64_t>& rows : PoissonMicrobatches(lines.size(), q, slots, sampler)) {
      torch::Tensor loss = MicrobatchEpisodeLoss(slow, spec, lines, rows, o, sampler, device);
      if (!loss.defined()) continue;
      loss.backward();
      sum.Accumulate();
      loss_sum += loss.item<double>();
      ++result.episodes;
    }
    sum.WriteNoisyMean(dp.noise_multiplier * dp.clip, slots, sampler);
    const double prox = AddProx(params, o.prox_mu);
    opt.step();
    losses.push_back(loss_sum / slots + prox);
  }
  *phase = LineDpPhase{"meta", q, dp.noise_multiplier, o.meta_iterations};
  result.initial_loss = losses.front();
  result.final_loss = TailMean(losses);
  result.iterations_per_phase = {o.meta_iterations, 0, 0};
  for (auto& item : net->named_parameters()) item.value().requires_grad_(true);
  result.weights = ToBundle(*net);
  result.device = device.str();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace

absl::StatusOr<ContrastiveResult> DpPretrainContrastive(
    const EncoderSpec& spec, const fl::TensorBundle& start, const LineSet& lines,
    const ContrastiveOptions& options, const LineDpOptions& dp, LineDpPhase* phase) {
  return GuardTorch([&] { return DpContrastiveImpl(spec, start, lines, options, dp, phase); });
}

absl::StatusOr<MetaResult> DpMetaTrain(const EncoderSpec& spec, const fl::TensorBundle& start,
                                       const LineSet& lines, const MetaOptions& options,
                                       const LineDpOptions& dp, LineDpPhase* phase) {
  return GuardTorch([&] { return DpMetaImpl(spec, start, lines, options, dp, phase); });
}

}  // namespace fedlog::model
