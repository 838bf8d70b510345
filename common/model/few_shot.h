// Few-shot adaptation of a (meta-trained) encoder to one site: k labeled lines (k = 0, 5, 10, 30,
// ...) give class prototypes, optionally after a few inner gradient steps; a line's score is the
// calibrated probability of the anomalous class from its distances to the prototypes. k = 0 uses
// global prototypes from the caller (e.g. MetaResult::global_prototypes), so a site without any
// label still gets a detector. Torch-free interface. Thread-safety: reentrant; torch's intra-op
// thread count is process-wide.
#ifndef FEDLOG_COMMON_MODEL_FEW_SHOT_H_
#define FEDLOG_COMMON_MODEL_FEW_SHOT_H_

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/calibration.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

// How the support set becomes prototypes. kClassMean: one prototype per class (the mean
// embedding). kNearestSupport: every support line is a prototype of its class and a line's
// distance to a class is its distance to the nearest one (1-nearest-neighbour), which keeps
// classes made of several unrelated templates apart; calibration and the threshold then come from
// leave-one-out scores of the support lines when there is no validation set.
enum class PrototypeMode { kClassMean, kNearestSupport };

struct AdaptOptions {
  PrototypeMode prototypes = PrototypeMode::kNearestSupport;
  // kNearestSupport: larger classes keep a seeded sample (scoring cost grows with the count).
  int max_prototypes_per_class = 64;
  int inner_steps = 0;  // gradient steps on the support set before taking prototypes (both classes)
  float inner_lr = 1e-2f;
  float distance_scale = 10.0f;  // raw score s = scale * (d_normal - d_anomalous)
  bool calibrate =
      true;  // Platt on the validation set, else on the support set (both need 2 classes)
  RuntimeOptions runtime;
};

struct FewShotModel {
  fl::TensorBundle weights;  // encoder weights used for scoring (adapted when inner_steps > 0)
  DenseMatrix prototypes;    // P x out_dim; row i belongs to class prototype_labels[i]
  std::vector<int> prototype_labels;  // 0 normal, 1 anomalous; empty = {0, 1} (2 rows)
  float distance_scale = 10.0f;
  PlattScaling platt;                   // identity (a = 1, b = 0) when not calibrated
  float threshold = 0.5f;               // max-F1 threshold on validation labels, else 0.5
  double validation_f1 = -1;            // F1 at `threshold` on the validation set; -1 without one
  int shots = 0;                        // labeled support lines used
  bool used_global_prototypes = false;  // a class was missing from the support set
};

// Adapts `weights` with the labeled `support` lines (labels 0 normal, > 0 anomalous; may be empty).
// `global_prototypes` (2 x out_dim, or empty) fills classes the support set lacks;
// FailedPrecondition when a class has neither. `validation` (labeled, may be empty) drives
// calibration and the threshold.
absl::StatusOr<FewShotModel> Adapt(const EncoderSpec& spec, const fl::TensorBundle& weights,
                                   const LineSet& support, const DenseMatrix& global_prototypes,
                                   const LineSet& validation, const AdaptOptions& options);

// The class of each prototype row ({0, 1} for a model without prototype_labels).
inline std::vector<int> PrototypeLabels(const FewShotModel& model) {
  return model.prototype_labels.empty() ? std::vector<int>{0, 1} : model.prototype_labels;
}

// InvalidArgument unless the prototypes are out_dim wide, one label (0 or 1) per row, and both
// classes have at least one. Inline: the torch-free LineScorer checks models the same way.
inline absl::Status CheckPrototypes(const FewShotModel& model, int out_dim) {
  const std::vector<int> labels = PrototypeLabels(model);
  if (model.prototypes.cols != out_dim ||
      model.prototypes.rows != static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError("few-shot model prototypes do not match out_dim or labels");
  }
  const size_t normals = static_cast<size_t>(std::count(labels.begin(), labels.end(), 0));
  const size_t anomalous = static_cast<size_t>(std::count(labels.begin(), labels.end(), 1));
  if (normals == 0 || anomalous == 0 || normals + anomalous != labels.size()) {
    return absl::InvalidArgumentError("few-shot model needs prototypes of both classes (0 and 1)");
  }
  return absl::OkStatus();
}

// Calibrated P(anomalous) per line; a line is an alert when its score >= model.threshold.
absl::StatusOr<std::vector<float>> ScoreFewShot(const EncoderSpec& spec, const FewShotModel& model,
                                                const LineSet& lines,
                                                const RuntimeOptions& runtime);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_FEW_SHOT_H_
