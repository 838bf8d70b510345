#include "common/model/few_shot.h"

#include <algorithm>
#include <limits>
#include <random>

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

// Raw scores s = scale * (d_normal - d_anomalous), d_c the squared distance to the nearest
// prototype of class c: with one prototype per class, the logit of the uncalibrated prototype
// softmax. `leave_out` (one entry per row of `emb`, -1 = none) hides that prototype column from
// its row: the leave-one-out scores of the support lines themselves.
torch::Tensor RawScores(const torch::Tensor& emb, const torch::Tensor& protos,
                        const std::vector<int>& labels, double scale,
                        const std::vector<int64_t>& leave_out = {}) {
  torch::Tensor d = SquaredEuclidean(emb, protos);
  const double inf = std::numeric_limits<double>::infinity();
  if (!leave_out.empty()) {
    d = d.clone();
    for (size_t r = 0; r < leave_out.size(); ++r) {
      if (leave_out[r] >= 0) d[static_cast<int64_t>(r)][leave_out[r]] = inf;
    }
  }
  std::vector<int64_t> as64(labels.begin(), labels.end());
  torch::Tensor normal = (torch::tensor(as64, torch::kInt64) == 0).to(d.device());
  torch::Tensor d_normal = d.masked_fill(normal.logical_not(), inf).amin(1);
  torch::Tensor d_anomalous = d.masked_fill(normal, inf).amin(1);
  return scale * (d_normal - d_anomalous);
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

// Prototypes of class `c` from the support embeddings `emb` (rows `rows`): their mean, or (nearest
// mode) the rows themselves, a seeded sample when there are more than the cap. Appends to
// `protos` / `labels` and, for each prototype that is a support row, that row to `source_row`.
void AddClassPrototypes(const torch::Tensor& emb, const std::vector<int64_t>& rows, int c,
                        const AdaptOptions& o, std::vector<torch::Tensor>* protos,
                        std::vector<int>* labels, std::vector<int64_t>* source_row) {
  if (o.prototypes == PrototypeMode::kClassMean) {
    protos->push_back(emb.index_select(0, torch::tensor(rows, torch::kInt64).to(emb.device()))
                          .mean(0));
    labels->push_back(c);
    source_row->push_back(-1);
    return;
  }
  std::vector<int64_t> keep = rows;
  if (static_cast<int>(keep.size()) > o.max_prototypes_per_class) {
    std::mt19937_64 rng(o.runtime.seed + static_cast<uint64_t>(c));
    std::shuffle(keep.begin(), keep.end(), rng);
    keep.resize(static_cast<size_t>(o.max_prototypes_per_class));
    std::sort(keep.begin(), keep.end());
  }
  for (int64_t r : keep) {
    protos->push_back(emb[r]);
    labels->push_back(c);
    source_row->push_back(r);
  }
}

// Platt scaling and (nearest mode, without a validation set) the threshold from the support
// lines' leave-one-out scores; in-sample when a class would be left without a prototype.
absl::Status CalibrateOnSupport(const torch::Tensor& emb, const torch::Tensor& protos,
                                const std::vector<int>& labels,
                                const std::vector<int64_t>& source_row, const LineSet& support,
                                const AdaptOptions& o, FewShotModel* model) {
  std::vector<int64_t> leave_out(static_cast<size_t>(emb.size(0)), -1);
  if (o.prototypes == PrototypeMode::kNearestSupport) {
    const int64_t normals = std::count(labels.begin(), labels.end(), 0);
    const int64_t anomalous = static_cast<int64_t>(labels.size()) - normals;
    if (normals >= 2 && anomalous >= 2) {
      for (size_t p = 0; p < source_row.size(); ++p) {
        if (source_row[p] < 0) continue;
        leave_out[static_cast<size_t>(source_row[p])] = static_cast<int64_t>(p);
      }
    }
  }
  std::vector<float> raw =
      TensorToVector(RawScores(emb, protos, labels, o.distance_scale, leave_out));
  const std::vector<int> y = BinaryInt(support.labels);
  if (o.calibrate) {
    FEDLOG_ASSIGN_OR_RETURN(model->platt, FitPlatt(raw, y));
  }
  if (o.prototypes != PrototypeMode::kNearestSupport) return absl::OkStatus();
  for (float& s : raw) s = static_cast<float>(model->platt.Apply(s));
  FEDLOG_ASSIGN_OR_RETURN(ThresholdChoice choice, MaxF1Threshold(raw, y));
  model->threshold = choice.threshold;
  model->validation_f1 = choice.f1;
  return absl::OkStatus();
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
  if (o.max_prototypes_per_class < 1) {
    return absl::InvalidArgumentError("max_prototypes_per_class must be >= 1");
  }
  FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(o.runtime));
  FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, weights, device));
  FewShotModel model;
  model.shots = static_cast<int>(support.size());
  model.distance_scale = o.distance_scale;
  if (o.inner_steps > 0 && HasBothClasses(support.labels))
    AdaptInPlace(net, spec, support, o, device);
  model.weights = ToBundle(*net);
  const std::vector<int64_t> y = Binary(support.labels);
  torch::Tensor emb = EmbedNoGrad(net, spec, support, device);
  std::vector<torch::Tensor> rows;
  std::vector<int> labels;
  std::vector<int64_t> source_row;
  for (int c = 0; c < 2; ++c) {
    std::vector<int64_t> members;
    for (size_t i = 0; i < y.size(); ++i) {
      if (y[i] == c) members.push_back(static_cast<int64_t>(i));
    }
    if (!members.empty()) {
      AddClassPrototypes(emb, members, c, o, &rows, &labels, &source_row);
    } else if (global.rows == 2) {
      rows.push_back(DenseToTensor(global, device)[c]);
      labels.push_back(c);
      source_row.push_back(-1);
      model.used_global_prototypes = true;
    } else {
      return absl::FailedPreconditionError(
          "a class has no support line and no global prototype was given");
    }
  }
  torch::Tensor protos = torch::stack(rows);
  model.prototypes = TensorToDense(protos);
  model.prototype_labels = labels;
  // Calibrate on held-out labels when there are any; else on the support set (leave-one-out in
  // nearest mode, in-sample and so biased with class means).
  if (HasBothClasses(validation.labels)) {
    std::vector<float> raw = TensorToVector(RawScores(EmbedNoGrad(net, spec, validation, device),
                                                      protos, labels, o.distance_scale));
    if (o.calibrate) {
      FEDLOG_ASSIGN_OR_RETURN(model.platt, FitPlatt(raw, BinaryInt(validation.labels)));
    }
    for (float& s : raw) s = static_cast<float>(model.platt.Apply(s));
    FEDLOG_ASSIGN_OR_RETURN(ThresholdChoice choice,
                            MaxF1Threshold(raw, BinaryInt(validation.labels)));
    model.threshold = choice.threshold;
    model.validation_f1 = choice.f1;
  } else if (HasBothClasses(support.labels)) {
    FEDLOG_RETURN_IF_ERROR(CalibrateOnSupport(emb, protos, labels, source_row, support, o, &model));
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
    FEDLOG_RETURN_IF_ERROR(CheckPrototypes(model, spec.out_dim));
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
    FEDLOG_ASSIGN_OR_RETURN(Encoder net, LoadEncoder(spec, model.weights, device));
    torch::Tensor raw =
        RawScores(EmbedNoGrad(net, spec, lines, device), DenseToTensor(model.prototypes, device),
                  PrototypeLabels(model), model.distance_scale);
    std::vector<float> out = TensorToVector(raw);
    for (float& s : out) s = static_cast<float>(model.platt.Apply(s));
    return out;
  });
}

}  // namespace fedlog::model
