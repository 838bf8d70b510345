#include <chrono>
#include <numeric>

#include "absl/strings/match.h"
#include "common/base/status_macros.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/encoder.h"
#include "common/model/losses.h"
#include "common/model/mlp_autoencoder.h"
#include "common/model/sparse_adam.h"

namespace fedlog::model {
namespace {

absl::Status CheckOptions(const ContrastiveOptions& o) {
  if (o.steps <= 0 || o.batch_size < 2)
    return absl::InvalidArgumentError("steps > 0 and batch_size >= 2 needed");
  if (!(o.temperature > 0) || !(o.encoder_lr >= 0) || !(o.head_lr > 0) || !(o.adapter_lr >= 0)) {
    return absl::InvalidArgumentError("temperature and learning rates must be positive");
  }
  if (!(o.prox_mu >= 0)) return absl::InvalidArgumentError("prox_mu must be >= 0");
  if (!(o.jaccard_weight >= 0)) return absl::InvalidArgumentError("jaccard_weight must be >= 0");
  return absl::OkStatus();
}

// Three parameter groups so encoder, adapters and head move at their own rates; embed.weight is
// left to SparseRowAdam (same rate as the encoder).
torch::optim::Adam MakeOptimizer(Encoder& net, const ContrastiveOptions& o) {
  std::vector<torch::Tensor> enc, adapters, head;
  for (auto& item : net->named_parameters()) {
    if (item.key() == "embed.weight") continue;
    if (absl::StartsWith(item.key(), "head."))
      head.push_back(item.value());
    else if (absl::StartsWith(item.key(), "adapter."))
      adapters.push_back(item.value());
    else
      enc.push_back(item.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(enc, std::make_unique<torch::optim::AdamOptions>(o.encoder_lr));
  if (!adapters.empty())
    groups.emplace_back(adapters, std::make_unique<torch::optim::AdamOptions>(o.adapter_lr));
  groups.emplace_back(head, std::make_unique<torch::optim::AdamOptions>(o.head_lr));
  return torch::optim::Adam(std::move(groups), torch::optim::AdamOptions(o.head_lr));
}

absl::StatusOr<ContrastiveResult> PretrainImpl(const EncoderSpec& spec,
                                               const fl::TensorBundle& start, const LineSet& lines,
                                               const ContrastiveOptions& o) {
  FEDLOG_RETURN_IF_ERROR(CheckOptions(o));
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  if (lines.size() < 2)
    return absl::FailedPreconditionError("contrastive pre-training needs at least 2 lines");
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, start, device));
  auto t0 = std::chrono::steady_clock::now();
  net->train();
  torch::optim::Adam opt = MakeOptimizer(net, o);
  SparseRowAdam embed_opt(net->named_parameters()["embed.weight"], o.encoder_lr);
  ProximalTerm prox(*net, o.prox_mu);
  std::mt19937_64 rng(o.runtime.seed);
  std::vector<int64_t> order(static_cast<size_t>(lines.size()));
  std::iota(order.begin(), order.end(), 0);
  size_t cursor = order.size();
  const size_t batch = std::min<size_t>(static_cast<size_t>(o.batch_size), order.size());
  ContrastiveResult result;
  std::vector<double> losses;
  for (int step = 0; step < o.steps; ++step) {
    if (cursor + batch > order.size()) {  // seeded reshuffle per epoch; a short tail is skipped
      std::shuffle(order.begin(), order.end(), rng);
      cursor = 0;
    }
    LineSet picked = SelectLines(
        lines, std::vector<int64_t>(order.begin() + cursor, order.begin() + cursor + batch));
    cursor += batch;
    LineSet v1 = AugmentView(picked, o.augment, spec.vocab_buckets, rng);
    LineSet v2 = AugmentView(picked, o.augment, spec.vocab_buckets, rng);
    EncoderInput in1 = MakeEncoderInput(spec, v1, device), in2 = MakeEncoderInput(spec, v2, device);
    in1.sparse_grad = in2.sparse_grad = true;
    torch::Tensor z = torch::cat({net->forward(in1), net->forward(in2)}, 0);
    torch::Tensor h = torch::nn::functional::normalize(
        net->project(z), torch::nn::functional::NormalizeFuncOptions().dim(1));
    torch::Tensor loss =
        InfoNceLoss(h, ContrastivePositives(picked, o.template_alignment, device), o.temperature);
    if (o.jaccard_weight > 0) {  // view 1 against view 2; the target is the lines' own token sets
      const int64_t b = picked.size();
      loss = loss + o.jaccard_weight *
                        PairSimilarityLoss(z.narrow(0, 0, b), z.narrow(0, b, b),
                                           TokenJaccardMatrix(picked.tokens, picked.tokens, device));
    }
    opt.zero_grad();
    loss.backward();
    const double prox_value = prox.AddGradients();
    opt.step();
    embed_opt.Step();
    losses.push_back(loss.item<double>() + prox_value);
  }
  result.initial_loss = losses.front();
  const size_t tail = std::min<size_t>(10, losses.size());
  result.final_loss =
      std::accumulate(losses.end() - tail, losses.end(), 0.0) / static_cast<double>(tail);
  result.steps = o.steps;
  result.weights = ToBundle(*net);
  result.device = device.str();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace

absl::StatusOr<fl::TensorBundle> InitialEncoderWeights(const EncoderSpec& spec) {
  FEDLOG_RETURN_IF_ERROR(ValidateEncoderSpec(spec));
  return GuardTorch([&]() -> absl::StatusOr<fl::TensorBundle> {
    torch::manual_seed(spec.init_seed);
    Encoder net(spec);
    return ToBundle(*net);
  });
}

absl::StatusOr<ContrastiveResult> PretrainContrastive(const EncoderSpec& spec,
                                                      const fl::TensorBundle& start,
                                                      const LineSet& lines,
                                                      const ContrastiveOptions& options) {
  return GuardTorch([&] { return PretrainImpl(spec, start, lines, options); });
}

absl::StatusOr<DenseMatrix> Embed(const EncoderSpec& spec, const fl::TensorBundle& weights,
                                  const LineSet& lines, const RuntimeOptions& runtime) {
  return GuardTorch([&]() -> absl::StatusOr<DenseMatrix> {
    FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
    FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, weights, device));
    return TensorToDense(EmbedNoGrad(net, spec, lines, device));
  });
}

}  // namespace fedlog::model
