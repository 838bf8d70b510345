#include "common/model/meta_trainer.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "common/base/status_macros.h"
#include "common/model/encoder.h"
#include "common/model/losses.h"
#include "common/model/maml.h"
#include "common/model/mlp_autoencoder.h"
#include "common/model/sparse_adam.h"

namespace fedlog::model {
namespace {

absl::Status CheckOptions(const MetaOptions& o) {
  if (o.meta_iterations <= 0 || o.meta_batch <= 0 || o.inner_steps < 0) {
    return absl::InvalidArgumentError(
        "meta_iterations and meta_batch must be positive, inner_steps >= 0");
  }
  if (!(o.inner_lr > 0) || !(o.meta_lr > 0) || !(o.distance_scale > 0) ||
      !(o.triplet_margin >= 0) || !(o.prox_mu >= 0) || !(o.jaccard_weight >= 0)) {
    return absl::InvalidArgumentError(
        "learning rates and distance_scale must be positive, margin and prox_mu >= 0");
  }
  if (o.jaccard_weight > 0 && o.jaccard_batch < 2)
    return absl::InvalidArgumentError("jaccard_batch must be >= 2");
  return absl::OkStatus();
}

// The token-overlap alignment term of one outer step (MetaOptions::jaccard_weight): a seeded
// draw of lines (without replacement within the draw), their embeddings' pair cosines against
// their token sets' Jaccard similarities.
torch::Tensor AlignmentLoss(Encoder& net, const EncoderSpec& spec, const LineSet& lines,
                            const MetaOptions& o, std::mt19937_64& rng,
                            const torch::Device& device) {
  std::vector<int64_t> rows(static_cast<size_t>(lines.size()));
  std::iota(rows.begin(), rows.end(), 0);
  const size_t take = std::min(rows.size(), static_cast<size_t>(o.jaccard_batch));
  for (size_t i = 0; i < take; ++i) {
    std::uniform_int_distribution<size_t> pick(i, rows.size() - 1);
    std::swap(rows[i], rows[pick(rng)]);
  }
  rows.resize(take);
  const LineSet batch = SelectLines(lines, rows);
  EncoderInput in = MakeEncoderInput(spec, batch, device);
  in.sparse_grad = true;
  torch::Tensor z = net->forward(in);
  return o.jaccard_weight *
         PairSimilarityLoss(z, z, TokenJaccardMatrix(batch.tokens, batch.tokens, device));
}

torch::Tensor Labels(const std::vector<int64_t>& labels, const torch::Device& device) {
  return torch::tensor(labels, torch::kInt64).to(device);
}

// Row 0: mean of label-0 embeddings, row 1: mean of anomalous ones; an empty class gives a zero
// row.
DenseMatrix BinaryPrototypes(const torch::Tensor& emb, const std::vector<int>& labels) {
  torch::Tensor y = (torch::tensor(labels, torch::kInt64) > 0).to(torch::kInt64).to(emb.device());
  return TensorToDense(ClassPrototypes(emb, y, 2));
}

// One episode's outer loss on the slow weights `slow` (fast weights built inside, slow left
// untouched).
torch::Tensor EpisodeLoss(const ParamMap& slow, const EncoderSpec& spec, const LineSet& lines,
                          const Episode& ep, const MetaOptions& o, const torch::Device& device) {
  EncoderInput support = MakeEncoderInput(spec, SelectLines(lines, ep.support), device);
  EncoderInput query = MakeEncoderInput(spec, SelectLines(lines, ep.query), device);
  torch::Tensor s_labels = Labels(ep.support_labels, device);
  torch::Tensor q_labels = Labels(ep.query_labels, device);
  // Sparse embedding gradients unless the inner loop differentiates through embed.weight itself.
  support.sparse_grad = query.sparse_grad = !o.inner_adapt_embedding;
  const int64_t classes = static_cast<int64_t>(ep.classes.size());
  InnerLoopOptions inner;
  inner.steps = o.inner_steps;
  inner.lr = o.inner_lr;
  inner.first_order = o.first_order;
  inner.adapt_embedding = o.inner_adapt_embedding;
  inner.distance_scale = o.distance_scale;
  ParamMap fast =
      o.inner_steps > 0 ? InnerAdapt(slow, spec, support, s_labels, classes, inner, true) : slow;
  return QueryLoss(fast, spec, support, s_labels, query, q_labels, classes, o.distance_scale,
                   o.hybrid_loss, o.triplet_margin);
}

absl::StatusOr<MetaResult> MetaTrainImpl(const EncoderSpec& spec, const fl::TensorBundle& start,
                                         const LineSet& lines,
                                         const std::map<std::string, double>& imbalance,
                                         const MetaOptions& o) {
  FEDLOG_RETURN_IF_ERROR(CheckOptions(o));
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  FEDLOG_ASSIGN_OR_RETURN(
      EpisodeSampler sampler,
      EpisodeSampler::Create(lines, imbalance, o.episode, o.curriculum, o.runtime.seed));
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, start, device));
  auto t0 = std::chrono::steady_clock::now();
  net->train();
  std::vector<torch::Tensor> trainable;
  for (auto& item : net->named_parameters()) {
    if (item.key().rfind("head.", 0) != 0 && item.key() != "embed.weight")
      trainable.push_back(item.value());
  }
  torch::optim::Adam opt(trainable, torch::optim::AdamOptions(o.meta_lr));
  SparseRowAdam embed_opt(net->named_parameters()["embed.weight"], o.meta_lr);
  ProximalTerm prox(*net, o.prox_mu);
  std::mt19937_64 align_rng(o.runtime.seed ^ 0x6a61636361726431ULL);  // its own stream
  MetaResult result;
  std::vector<double> losses;
  for (int it = 0; it < o.meta_iterations; ++it) {
    const int phase = sampler.Phase(it, o.meta_iterations);
    ++result.iterations_per_phase[phase];
    opt.zero_grad();
    ParamMap slow = ParamsOf(*net);
    double total = 0;
    for (int b = 0; b < o.meta_batch; ++b) {
      // Backward per episode frees each episode's graph at once: memory stays at one episode's
      // worth.
      torch::Tensor loss =
          EpisodeLoss(slow, spec, lines, sampler.Sample(phase), o, device) / o.meta_batch;
      loss.backward();
      total += loss.item<double>();
      ++result.episodes;
    }
    if (o.jaccard_weight > 0 && lines.size() >= 2) {
      torch::Tensor align = AlignmentLoss(net, spec, lines, o, align_rng, device);
      align.backward();
      total += align.item<double>();
    }
    total += prox.AddGradients();
    opt.step();
    embed_opt.Step();
    losses.push_back(total);
  }
  result.initial_loss = losses.front();
  const size_t tail = std::min<size_t>(10, losses.size());
  result.final_loss =
      std::accumulate(losses.end() - tail, losses.end(), 0.0) / static_cast<double>(tail);
  result.weights = ToBundle(*net);
  result.global_prototypes = BinaryPrototypes(EmbedNoGrad(net, spec, lines, device), lines.labels);
  result.device = device.str();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace

absl::StatusOr<MetaResult> MetaTrain(const EncoderSpec& spec, const fl::TensorBundle& start,
                                     const LineSet& lines,
                                     const std::map<std::string, double>& imbalance,
                                     const MetaOptions& options) {
  return GuardTorch([&] { return MetaTrainImpl(spec, start, lines, imbalance, options); });
}

absl::StatusOr<DenseMatrix> ComputePrototypes(const EncoderSpec& spec,
                                              const fl::TensorBundle& weights, const LineSet& lines,
                                              const RuntimeOptions& runtime) {
  return GuardTorch([&]() -> absl::StatusOr<DenseMatrix> {
    FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
    if (static_cast<int64_t>(lines.labels.size()) != lines.size() || lines.size() == 0) {
      return absl::InvalidArgumentError("prototypes need labeled lines");
    }
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
    FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, weights, device));
    return BinaryPrototypes(EmbedNoGrad(net, spec, lines, device), lines.labels);
  });
}

}  // namespace fedlog::model
