// A site's lines as the line encoder sees them, and the pieces of a line-encoder round that the
// site daemon (through LineEncoderModel, site_model.h) and `fedlog score` share: the spec from the
// protocol, the held-out split, support sampling, the detector's metrics on held-out lines, the
// round's work from its plan and the uploaded delta. Torch-free. Thread-safety: reentrant.
#ifndef FEDLOG_COMMON_MODEL_ENCODER_SITE_DATA_H_
#define FEDLOG_COMMON_MODEL_ENCODER_SITE_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/site_lines.h"
#include "common/model/site_round.h"
#include "fedlog/v1/federation.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::model {

// The encoder shape of `spec.encoder` (unset LineEncoderSpec fields at their model.proto defaults,
// no sources). InvalidArgument for a bad shape. The arch is not looked at: CreateSiteModel
// (site_model.h) is the one place that reads it.
absl::StatusOr<EncoderSpec> EncoderSpecFromProto(const v1::ModelSpec& spec);

// A site's lines as the line encoder sees them.
struct EncoderData {
  std::vector<std::string> sources;  // adapter names: the configured source names, distinct
  LineSet train;         // labels: none when no source has labels, else -1 marks unlabeled lines
  LineSet validation;    // labeled held-out lines: calibration and threshold
  LineSet test;          // labeled held-out lines: reported metrics
  int64_t held_out = 0;  // every held-out line, labeled or not
};

// Parses and featurizes every source in file order (its own LineParser and Drain, one
// StreamFeaturizer, common/model/line_input.h), then holds out `holdout_percent` of the lines by a
// seeded shuffle; the labeled held-out lines alternate between validation and test. `dense_dim`
// must be 0 (tokens only) or the featurizer's width.
absl::StatusOr<EncoderData> BuildEncoderData(const std::vector<SourceLines>& sources, int dense_dim,
                                             int holdout_percent, uint64_t seed);

// Rows of up to `k` labeled lines per class (normal, anomalous) of `lines`, drawn with `seed`,
// ascending; SampleSupport selects them.
std::vector<int64_t> SupportRows(const LineSet& lines, int k, uint64_t seed);
LineSet SampleSupport(const LineSet& lines, int k, uint64_t seed);

struct DetectionMetrics {
  double f1 = 0, precision = 0, recall = 0;  // at the detector's threshold
  double auroc = 0.5;                        // of the uncalibrated prototype score
  int64_t lines = 0, anomalies = 0;
  int shots = 0;
  double threshold = 0.5;
};

// The site's detector (BuildSiteDetector) from `weights` and `support`, calibrated and thresholded
// on data.validation, measured on data.test. FailedPrecondition when the test lines lack a class,
// or when a class has neither support lines nor prototypes in `weights`.
absl::StatusOr<DetectionMetrics> EvaluateDetector(const EncoderSpec& site_spec,
                                                  const fl::TensorBundle& weights,
                                                  const LineSet& support, const EncoderData& data,
                                                  const RuntimeOptions& runtime);

// A round's local work from its plan; a plan without contrastive steps and meta-iterations (e.g.
// from an admin tool that predates them) gets LocalWork's defaults for those and inner_steps. The
// seed is plan.seed + round.
LocalWork WorkFromPlan(const v1::TrainingPlan& plan, int round, const RuntimeOptions& runtime);

// weights - base for every tensor of `weights` that `base` has, the full value for the others
// (tensors a site adds: new adapters, prototypes).
absl::StatusOr<fl::TensorBundle> UpdateDelta(const fl::TensorBundle& weights,
                                             const fl::TensorBundle& base);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_ENCODER_SITE_DATA_H_
