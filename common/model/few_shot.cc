#include "common/model/few_shot.h"

#include "common/base/status_macros.h"
#include "common/model/encoder.h"
#include "common/model/losses.h"
#include "common/model/maml.h"
#include "common/model/mlp_autoencoder.h"

namespace fedlog::model {
namespace {

std::vector<int64_t> Binary(const std::vector<int>& labels) {
  std::vector<int64_t> out;
  out.reserve(labels.size());
  for (int y : labels) out.push_back(y > 0 ? 1 : 0);
  return out;
}

std::vector<int> BinaryInt(const std::vector<int>& labels) {
  std::vector<int> out;
  for (int y : labels) out.push_back(y > 0 ? 1 : 0);
  return out;
}

bool HasBothClasses(const std::vector<int>& labels) {
  bool pos = false, neg = false;
  for (int y : labels) (y > 0 ? pos : neg) = true;
  return pos && neg;
}

// Raw scores s = scale * (d_normal - d_anomalous): the logit of the uncalibrated prototype softmax.
torch::Tensor RawScores(const torch::Tensor& emb, const torch::Tensor& protos, double scale) {
  torch::Tensor d = SquaredEuclidean(emb, protos);
  return scale * (d.select(1, 0) - d.select(1, 1));
}

absl::Status CheckLabeled(const LineSet& lines, const char* what) {
  if (static_cast<int64_t>(lines.labels.size()) != lines.size()) {
    return absl::InvalidArgumentError(std::string(what) + " lines need a label each");
  }
  return absl::OkStatus();
}

// Optional inner steps on the support set, written back into `net` (its weights are a private
// copy).
void AdaptInPlace(Encoder& net, const EncoderSpec& spec, const LineSet& support,
                  const AdaptOptions& o, const torch::Device& device) {
  InnerLoopOptions inner;
  inner.steps = o.inner_steps;
  inner.lr = o.inner_lr;
  inner.first_order =
      true;  // nothing differentiates through adaptation, so second order buys nothing
  inner.distance_scale = o.distance_scale;
  torch::Tensor labels = torch::tensor(Binary(support.labels), torch::kInt64).to(device);
  ParamMap fast =
      InnerAdapt(ParamsOf(*net), spec, MakeEncoderInput(spec, support, device), labels, 2, inner,
                 /*train=*/false);
  torch::NoGradGuard no_grad;
  for (auto& item : net->named_parameters()) item.value().copy_(fast.at(item.key()));
}

absl::StatusOr<FewShotModel> AdaptImpl(const EncoderSpec& spec, const fl::TensorBundle& weights,
                                       const LineSet& support, const DenseMatrix& global,
                                       const LineSet& validation, const AdaptOptions& o) {
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, support));
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, validation));
  FEDLOG_RETURN_IF_ERROR(CheckLabeled(support, "support"));
  FEDLOG_RETURN_IF_ERROR(CheckLabeled(validation, "validation"));
  if (global.rows != 0 && (global.rows != 2 || global.cols != spec.out_dim)) {
    return absl::InvalidArgumentError("global prototypes must be 2 x out_dim");
  }
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, weights, device));
  FewShotModel model;
  model.shots = static_cast<int>(support.size());
  model.distance_scale = o.distance_scale;
  if (o.inner_steps > 0 && HasBothClasses(support.labels))
    AdaptInPlace(net, spec, support, o, device);
  model.weights = ToBundle(*net);
  torch::Tensor protos = torch::zeros({2, spec.out_dim}, torch::TensorOptions().device(device));
  std::vector<int64_t> y = Binary(support.labels);
  torch::Tensor emb = EmbedNoGrad(net, spec, support, device);
  for (int64_t c = 0; c < 2; ++c) {
    if (std::count(y.begin(), y.end(), c) > 0) {
      torch::Tensor mask = torch::tensor(y, torch::kInt64).to(device) == c;
      protos[c] = emb.index_select(0, mask.nonzero().squeeze(1)).mean(0);
    } else if (global.rows == 2) {
      protos[c] = DenseToTensor(global, device)[c];
      model.used_global_prototypes = true;
    } else {
      return absl::FailedPreconditionError(
          "a class has no support line and no global prototype was given");
    }
  }
  model.prototypes = TensorToDense(protos);
  // Calibrate on held-out labels when there are any; the support set is a biased (fitted) fallback.
  const LineSet* calib = HasBothClasses(validation.labels) ? &validation
                         : HasBothClasses(support.labels)  ? &support
                                                           : nullptr;
  if (o.calibrate && calib != nullptr) {
    std::vector<float> raw =
        TensorToVector(RawScores(EmbedNoGrad(net, spec, *calib, device), protos, o.distance_scale));
    FEDLOG_ASSIGN_OR_RETURN(model.platt, FitPlatt(raw, BinaryInt(calib->labels)));
  }
  if (HasBothClasses(validation.labels)) {
    std::vector<float> raw = TensorToVector(
        RawScores(EmbedNoGrad(net, spec, validation, device), protos, o.distance_scale));
    for (float& s : raw) s = static_cast<float>(model.platt.Apply(s));
    FEDLOG_ASSIGN_OR_RETURN(ThresholdChoice choice,
                            MaxF1Threshold(raw, BinaryInt(validation.labels)));
    model.threshold = choice.threshold;
    model.validation_f1 = choice.f1;
  }
  return model;
}

}  // namespace

absl::StatusOr<FewShotModel> Adapt(const EncoderSpec& spec, const fl::TensorBundle& weights,
                                   const LineSet& support, const DenseMatrix& global_prototypes,
                                   const LineSet& validation, const AdaptOptions& options) {
  return GuardTorch(
      [&] { return AdaptImpl(spec, weights, support, global_prototypes, validation, options); });
}

absl::StatusOr<std::vector<float>> ScoreFewShot(const EncoderSpec& spec, const FewShotModel& model,
                                                const LineSet& lines,
                                                const RuntimeOptions& runtime) {
  return GuardTorch([&]() -> absl::StatusOr<std::vector<float>> {
    FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, lines));
    if (model.prototypes.rows != 2 || model.prototypes.cols != spec.out_dim) {
      return absl::InvalidArgumentError("few-shot model has no 2 x out_dim prototypes");
    }
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
    FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, model.weights, device));
    torch::Tensor raw = RawScores(EmbedNoGrad(net, spec, lines, device),
                                  DenseToTensor(model.prototypes, device), model.distance_scale);
    std::vector<float> out = TensorToVector(raw);
    for (float& s : out) s = static_cast<float>(model.platt.Apply(s));
    return out;
  });
}

}  // namespace fedlog::model
