// Line-level DP-SGD's per-line supervised objective (dp_sgd.h, DpSupervisedTrain): every sampled
// labelled line's own prototype loss, its gradient clipped alone, CSPRNG noise on the step's sum.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "common/base/status_macros.h"
#include "common/model/dp_sgd.h"
#include "common/model/dp_sgd_step.h"
#include "common/model/encoder.h"
#include "common/model/mlp_autoencoder.h"

namespace fedlog::model {
namespace {

constexpr char kPrototypes[] = "prototypes.global";

// The encoder and the learnable prototypes of one per-line loop.
struct PerLineModel {
  Encoder net{nullptr};
  torch::Tensor protos;  // [2, out_dim], requires grad
  DpParams params;
  std::vector<torch::Tensor> All() const {
    std::vector<torch::Tensor> all = params.All();
    all.push_back(protos);
    return all;
  }
};

absl::StatusOr<PerLineModel> LoadPerLineModel(const EncoderSpec& spec,
                                              const fl::TensorBundle& start,
                                              const fl::NamedTensor* prototypes,
                                              const LineDpOptions& dp, double prox_mu,
                                              const torch::Device& device) {
  PerLineModel m;
  FEDLOG_ASSIGN_OR_RETURN(m.net, LoadEncoder(spec, start, device));
  m.net->train();
  m.params = SplitParams(m.net, /*with_head=*/false, dp.train_embedding, prox_mu);
  if (dp.scope == DpScope::kAdapters) {
    // Only the adapters and the prototypes are trained: the encoder is frozen (no gradient, no
    // noise, no Adam step, no proximal term), so it leaves this loop exactly as it came.
    for (torch::Tensor& p : m.params.encoder) p.requires_grad_(false);
    m.params.encoder.clear();
    m.params.prox.clear();
  }
  // Data-independent start: p_normal = -a v, p_anomalous = +a v with v = (+1, -1, +1, ...) / sqrt(d)
  // and a = 0.5, so the loss is a linear classifier along v from the first step (equal prototypes
  // would give the encoder no gradient until they drift apart at Adam's learning rate).
  const torch::Tensor v =
      (torch::arange(spec.out_dim).remainder(2) * -2 + 1).to(torch::kFloat32) /
      std::sqrt(static_cast<double>(spec.out_dim));
  m.protos = torch::stack({v * -0.5, v * 0.5});
  if (prototypes != nullptr && prototypes->shape == std::vector<int64_t>{2, spec.out_dim} &&
      static_cast<int64_t>(prototypes->values.size()) == 2 * spec.out_dim) {
    m.protos = torch::tensor(prototypes->values, torch::kFloat32).reshape({2, spec.out_dim});
  }
  m.protos = m.protos.to(device).requires_grad_(true);
  return m;
}

// One line's loss: cross-entropy of -scale * squared distance of its embedding to each prototype.
// It reads this line and the parameters only (LayerNorm and dropout act within the line).
torch::Tensor LineLoss(PerLineModel& m, const EncoderSpec& spec, const LineSet& lines, int64_t row,
                       double scale, const torch::Device& device) {
  EncoderInput in = MakeEncoderInput(spec, SelectLines(lines, {row}), device);
  in.sparse_grad = true;  // embed.weight: this line's rows only
  const torch::Tensor z = m.net->forward(in);                            // [1, out_dim]
  const torch::Tensor d = (z.unsqueeze(1) - m.protos.unsqueeze(0)).pow(2).sum(2);  // [1, 2]
  const int64_t y = lines.labels[row] > 0 ? 1 : 0;
  return torch::nn::functional::cross_entropy(-scale * d,
                                              torch::tensor({y}, torch::kInt64).to(device));
}

// Adds each row's gradient, clipped alone to `sum`'s bound, to `sum`; returns the summed loss.
double AccumulateRows(PerLineModel& m, const EncoderSpec& spec, const LineSet& lines,
                      const std::vector<int64_t>& rows, double scale, const torch::Device& device,
                      ClippedGradientSum& sum) {
  double loss_sum = 0;
  for (int64_t row : rows) {
    torch::Tensor loss = LineLoss(m, spec, lines, row, scale, device);
    loss.backward();
    sum.Accumulate();
    loss_sum += loss.item<double>();
  }
  return loss_sum;
}

absl::Status CheckInputs(const EncoderSpec& spec, const LineSet& lines, const LineDpOptions& dp) {
  FEDLOG_RETURN_IF_ERROR(ValidateLineDpOptions(dp));
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  if (lines.size() == 0 || static_cast<int64_t>(lines.labels.size()) != lines.size()) {
    return absl::InvalidArgumentError("per-line DP: labelled lines, one label per line");
  }
  for (int y : lines.labels) {
    if (y < 0) return absl::InvalidArgumentError("per-line DP: every line must be labelled");
  }
  return absl::OkStatus();
}

fl::TensorBundle WeightsWithPrototypes(PerLineModel& m) {
  for (auto& item : m.net->named_parameters()) item.value().requires_grad_(true);
  fl::TensorBundle out = ToBundle(*m.net);
  const torch::Tensor p = m.protos.detach().to(torch::kCPU).contiguous();
  out.tensors.push_back(fl::NamedTensor{
      kPrototypes, {p.size(0), p.size(1)},
      std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel())});
  return out;
}

absl::StatusOr<DpSupervisedResult> TrainImpl(const EncoderSpec& spec, const fl::TensorBundle& start,
                                             const fl::NamedTensor* prototypes,
                                             const LineSet& lines, const MetaOptions& o,
                                             const LineDpOptions& dp, LineDpPhase* phase) {
  FEDLOG_RETURN_IF_ERROR(CheckInputs(spec, lines, dp));
  if (o.meta_iterations <= 0) return absl::InvalidArgumentError("per-line DP: steps > 0");
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(PerLineModel m,
                          LoadPerLineModel(spec, start, prototypes, dp, o.prox_mu, device));
  const auto t0 = std::chrono::steady_clock::now();
  torch::optim::Adam opt(m.All(), torch::optim::AdamOptions(o.meta_lr));
  ClippedGradientSum sum(m.All(), dp.clip);  // one line per "micro-batch": its bound is C
  const StratifiedRates rates = PerLineRates(lines.labels, dp);
  DpSupervisedResult result;
  std::vector<double> losses;
  for (int step = 0; step < o.meta_iterations; ++step) {
    const std::vector<int64_t> rows =
        StratifiedPoissonSample(lines.labels, rates.anomalous, rates.normal, sampler);
    const double loss_sum = AccumulateRows(m, spec, lines, rows, o.distance_scale, device, sum);
    sum.WriteNoisyMean(dp.noise_multiplier * dp.clip, dp.normal_lines_per_step, sampler);
    const double prox = AddProx(m.params, o.prox_mu);
    opt.step();
    result.lines_sampled += static_cast<int64_t>(rows.size());
    losses.push_back((rows.empty() ? 0 : loss_sum / static_cast<double>(rows.size())) + prox);
  }
  *phase = LineDpPhase{"per_line", dp.anomalous_rate, dp.noise_multiplier, o.meta_iterations};
  result.initial_loss = losses.front();
  result.final_loss = TailMean(losses);
  result.weights = WeightsWithPrototypes(m);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

absl::StatusOr<fl::TensorBundle> GradientSumImpl(const EncoderSpec& spec,
                                                 const fl::TensorBundle& start,
                                                 const fl::NamedTensor* prototypes,
                                                 const LineSet& lines,
                                                 const std::vector<int64_t>& rows,
                                                 const LineDpOptions& dp, double distance_scale) {
  FEDLOG_RETURN_IF_ERROR(CheckInputs(spec, lines, dp));
  const torch::Device device(torch::kCPU);
  FEDLOG_ASSIGN_OR_RETURN(PerLineModel m,
                          LoadPerLineModel(spec, start, prototypes, dp, 0, device));
  m.net->eval();  // no dropout: the test compares sums exactly
  ClippedGradientSum sum(m.All(), dp.clip);
  for (int64_t r : rows) {
    if (r < 0 || r >= lines.size()) return absl::InvalidArgumentError("row out of range");
  }
  AccumulateRows(m, spec, lines, rows, distance_scale, device, sum);
  fl::TensorBundle out;
  std::vector<std::string> names, adapters;  // in SplitParams' order: encoder, adapters
  for (auto& item : m.net->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    (item.key().rfind("adapter.", 0) == 0 ? adapters : names).push_back(item.key());
  }
  names.insert(names.end(), adapters.begin(), adapters.end());
  names.push_back(kPrototypes);
  for (size_t i = 0; i < sum.sum().size(); ++i) {
    const torch::Tensor t = sum.sum()[i].to(torch::kCPU).contiguous();
    out.tensors.push_back(fl::NamedTensor{
        names[i], std::vector<int64_t>(t.sizes().begin(), t.sizes().end()),
        std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())});
  }
  return out;
}

}  // namespace

StratifiedRates PerLineRates(const std::vector<int>& labels, const LineDpOptions& dp) {
  int64_t normal = 0;
  for (int y : labels) normal += y == 0 ? 1 : 0;
  StratifiedRates r;
  r.anomalous = dp.anomalous_rate;
  r.normal = normal == 0 ? dp.anomalous_rate
                         : std::min(dp.anomalous_rate, static_cast<double>(dp.normal_lines_per_step) /
                                                           static_cast<double>(normal));
  return r;
}

std::vector<int64_t> StratifiedPoissonSample(const std::vector<int>& labels, double anomalous_rate,
                                             double normal_rate,
                                             privacy::GaussianSampler& sampler) {
  constexpr double kTwoTo53 = 9007199254740992.0;
  std::vector<int64_t> rows;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    const double u = static_cast<double>(sampler.NextUint64() >> 11) / kTwoTo53;  // [0, 1)
    if (u < (labels[i] > 0 ? anomalous_rate : normal_rate)) rows.push_back(static_cast<int64_t>(i));
  }
  return rows;
}

absl::StatusOr<DpSupervisedResult> DpSupervisedTrain(const EncoderSpec& spec,
                                                     const fl::TensorBundle& start,
                                                     const fl::NamedTensor* prototypes,
                                                     const LineSet& lines,
                                                     const MetaOptions& options,
                                                     const LineDpOptions& dp, LineDpPhase* phase) {
  return GuardTorch([&] { return TrainImpl(spec, start, prototypes, lines, options, dp, phase); });
}

absl::StatusOr<fl::TensorBundle> DpPerLineClippedSum(const EncoderSpec& spec,
                                                     const fl::TensorBundle& start,
                                                     const fl::NamedTensor* prototypes,
                                                     const LineSet& lines,
                                                     const std::vector<int64_t>& rows,
                                                     const LineDpOptions& dp,
                                                     double distance_scale) {
  return GuardTorch([&] {
    return GradientSumImpl(spec, start, prototypes, lines, rows, dp, distance_scale);
  });
}

}  // namespace fedlog::model
