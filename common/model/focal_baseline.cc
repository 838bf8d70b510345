#include "common/model/focal_baseline.h"

#include <chrono>
#include <numeric>
#include <random>

#include "absl/strings/match.h"
#include "common/base/status_macros.h"
#include "common/model/encoder.h"
#include "common/model/losses.h"
#include "common/model/mlp_autoencoder.h"
#include "common/model/sparse_adam.h"

namespace fedlog::model {
namespace {

constexpr char kClassifierPrefix[] = "classifier.";

// Splits a baseline bundle into the encoder's tensors and the classifier's (prefix stripped).
void SplitBundle(const fl::TensorBundle& all, fl::TensorBundle* encoder,
                 fl::TensorBundle* classifier) {
  for (const fl::NamedTensor& t : all.tensors) {
    if (absl::StartsWith(t.name, kClassifierPrefix)) {
      fl::NamedTensor c = t;
      c.name = t.name.substr(sizeof(kClassifierPrefix) - 1);
      classifier->tensors.push_back(std::move(c));
    } else {
      encoder->tensors.push_back(t);
    }
  }
}

absl::Status CheckLabels(const LineSet& lines, int classes) {
  if (static_cast<int64_t>(lines.labels.size()) != lines.size() || lines.size() == 0) {
    return absl::InvalidArgumentError("the focal baseline needs a label per line");
  }
  for (int y : lines.labels) {
    if (y >= classes) return absl::InvalidArgumentError("label outside [0, num_classes)");
  }
  return absl::OkStatus();
}

absl::StatusOr<FocalResult> TrainImpl(const EncoderSpec& spec, const fl::TensorBundle& start,
                                      const LineSet& lines, const FocalOptions& o) {
  if (o.steps <= 0 || o.batch_size <= 0 || !(o.learning_rate > 0) || o.num_classes < 2) {
    return absl::InvalidArgumentError(
        "steps, batch_size, learning_rate must be positive and num_classes >= 2");
  }
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  FEDLOG_RETURN_IF_ERROR(CheckLabels(lines, o.num_classes));
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, start, device));
  torch::nn::Linear classifier(spec.out_dim, o.num_classes);
  classifier->to(device);
  auto t0 = std::chrono::steady_clock::now();
  net->train();
  std::vector<torch::Tensor> params;
  for (auto& item : net->named_parameters()) {
    if (item.key() != "embed.weight") params.push_back(item.value());
  }
  for (auto& p : classifier->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.learning_rate));
  SparseRowAdam embed_opt(net->named_parameters()["embed.weight"], o.learning_rate);
  std::mt19937_64 rng(o.runtime.seed);
  std::uniform_int_distribution<int64_t> pick(0, lines.size() - 1);
  std::vector<double> losses;
  for (int step = 0; step < o.steps; ++step) {
    std::vector<int64_t> rows(static_cast<size_t>(o.batch_size));
    for (int64_t& r : rows) r = pick(rng);
    LineSet batch = SelectLines(lines, rows);
    EncoderInput in = MakeEncoderInput(spec, batch, device);
    in.sparse_grad = true;
    torch::Tensor logits = classifier->forward(net->forward(in));
    torch::Tensor targets = torch::tensor(batch.labels, torch::kInt64).to(device);
    torch::Tensor loss = FocalLoss(logits, targets, o.alpha, o.gamma);
    opt.zero_grad();
    loss.backward();
    opt.step();
    embed_opt.Step();
    losses.push_back(loss.item<double>());
  }
  FocalResult result;
  result.initial_loss = losses.front();
  const size_t tail = std::min<size_t>(10, losses.size());
  result.final_loss =
      std::accumulate(losses.end() - tail, losses.end(), 0.0) / static_cast<double>(tail);
  result.weights = ToBundle(*net);
  for (fl::NamedTensor& t : ToBundle(*classifier).tensors) {
    t.name = kClassifierPrefix + t.name;
    result.weights.tensors.push_back(std::move(t));
  }
  result.device = device.str();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

absl::StatusOr<std::vector<float>> ScoreImpl(const EncoderSpec& spec,
                                             const fl::TensorBundle& weights, const LineSet& lines,
                                             const RuntimeOptions& runtime) {
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
  fl::TensorBundle enc, cls;
  SplitBundle(weights, &enc, &cls);
  const fl::NamedTensor* w = cls.Find("weight");
  if (w == nullptr || w->shape.size() != 2)
    return absl::InvalidArgumentError("bundle lacks classifier.weight");
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, enc, device));
  torch::nn::Linear classifier(spec.out_dim, w->shape[0]);
  FEDLOG_RETURN_IF_ERROR(LoadParams(cls, *classifier, false));
  classifier->to(device);
  torch::NoGradGuard no_grad;
  torch::Tensor probs =
      torch::softmax(classifier->forward(EmbedNoGrad(net, spec, lines, device)), 1);
  return TensorToVector(1.0 - probs.select(1, 0));
}

}  // namespace

absl::StatusOr<FocalResult> TrainFocalBaseline(const EncoderSpec& spec,
                                               const fl::TensorBundle& start, const LineSet& lines,
                                               const FocalOptions& options) {
  return GuardTorch([&] { return TrainImpl(spec, start, lines, options); });
}

absl::StatusOr<std::vector<float>> ScoreFocalBaseline(const EncoderSpec& spec,
                                                      const fl::TensorBundle& weights,
                                                      const LineSet& lines,
                                                      const RuntimeOptions& runtime) {
  return GuardTorch([&] { return ScoreImpl(spec, weights, lines, runtime); });
}

}  // namespace fedlog::model
