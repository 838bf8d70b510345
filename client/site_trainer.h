// SiteTrainer: a site's local work in a federated round, for either network the aggregator runs
// (RoundTask.spec.arch): the foundation's MLP autoencoder over hashed line features, or the learned
// line encoder ("line_encoder": contrastive steps, meta-learning on labeled lines, FedProx,
// per-source adapters and prototypes; common/model/site_round.h). It evaluates the round's input
// model on the site's held-out lines and trains it on the rest; the daemon does the network part.
// The encoder data helpers are public because `fedlog score` prepares a site's lines and evaluates
// its models with the very same code. Thread-compatible: one round at a time.
#ifndef FEDLOG_CLIENT_SITE_TRAINER_H_
#define FEDLOG_CLIENT_SITE_TRAINER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "client/local_data.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/personalise.h"
#include "common/model/site_round.h"
#include "fedlog/v1/federation.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client {

// The encoder shape of `spec` (arch "line_encoder"), unset LineEncoderSpec fields at their
// model.proto defaults, no sources. InvalidArgument for another arch or a bad shape.
absl::StatusOr<model::EncoderSpec> EncoderSpecFromProto(const v1::ModelSpec& spec);

// A site's lines as the line encoder sees them.
struct EncoderData {
  std::vector<std::string> sources;  // adapter names: the configured source names, distinct
  model::LineSet train;  // labels: none when no source has labels, else -1 marks unlabeled lines
  model::LineSet validation;  // labeled held-out lines: calibration and threshold
  model::LineSet test;        // labeled held-out lines: reported metrics
  int64_t held_out = 0;       // every held-out line, labeled or not
};

// Parses and featurizes every source in file order (its own LineParser and Drain, one
// StreamFeaturizer, common/model/line_input.h), then holds out `holdout_percent` of the lines by a
// seeded shuffle; the labeled held-out lines alternate between validation and test. `dense_dim`
// must be 0 (tokens only) or the featurizer's width.
absl::StatusOr<EncoderData> BuildEncoderData(const std::vector<SourceLines>& sources, int dense_dim,
                                             int holdout_percent, uint64_t seed);

// Rows of up to `k` labeled lines per class (normal, anomalous) of `lines`, drawn with `seed`,
// ascending; SampleSupport selects them.
std::vector<int64_t> SupportRows(const model::LineSet& lines, int k, uint64_t seed);
model::LineSet SampleSupport(const model::LineSet& lines, int k, uint64_t seed);

struct DetectionMetrics {
  double f1 = 0, precision = 0, recall = 0;  // at the detector's threshold
  double auroc = 0.5;                        // of the uncalibrated prototype score
  int64_t lines = 0, anomalies = 0;
  int shots = 0;
  double threshold = 0.5;
};

// The site's detector (model::BuildSiteDetector) from `weights` and `support`, calibrated and
// thresholded on data.validation, measured on data.test. FailedPrecondition when the test lines
// lack a class, or when a class has neither support lines nor prototypes in `weights`.
absl::StatusOr<DetectionMetrics> EvaluateDetector(const model::EncoderSpec& site_spec,
                                                  const fl::TensorBundle& weights,
                                                  const model::LineSet& support,
                                                  const EncoderData& data,
                                                  const model::RuntimeOptions& runtime);

// A round's local work from its plan; a plan without contrastive steps and meta-iterations (e.g.
// from an admin tool that predates them) gets LocalWork's defaults for those and inner_steps. The
// seed is plan.seed + round.
model::LocalWork WorkFromPlan(const v1::TrainingPlan& plan, int round,
                              const model::RuntimeOptions& runtime);

// weights - base for every tensor of `weights` that `base` has, the full value for the others
// (tensors a site adds: new adapters, prototypes).
absl::StatusOr<fl::TensorBundle> UpdateDelta(const fl::TensorBundle& weights,
                                             const fl::TensorBundle& base);

// What a round sends back besides the evaluation report.
struct LocalUpdate {
  fl::TensorBundle delta;
  v1::UpdateHeader header;  // num_samples, train_loss, statistics, metrics incl. "train_seconds"
                            // (the daemon adds run, round and base version)
  std::string summary;      // one line for the log
};

struct SiteTrainerOptions {
  int holdout_percent = 20;
  uint64_t split_seed = 7;  // the held-out split; `fedlog score` uses the same
  int eval_shots = 10;      // labeled training lines per class in the evaluated detector's support
  std::string device = "cpu";
  int threads = 1;
  // The live detector's store (<data_dir>/detect.db, client/detect). Operators' verdicts on alerts
  // (`fedlog feedback`) found there join the training lines as labels at the next round; "" or a
  // missing file: none.
  std::string feedback_db;
};

class SiteTrainer {
 public:
  // `sources` must outlive the trainer.
  SiteTrainer(const std::vector<SourceLines>* sources, SiteTrainerOptions options);

  // Quality of the round's input model on the held-out lines (EvaluationReport metrics).
  absl::StatusOr<v1::EvaluationReport> Evaluate(const v1::RoundTask& task,
                                                const fl::TensorBundle& global);
  // The round's local work on the training lines.
  absl::StatusOr<LocalUpdate> Train(const v1::RoundTask& task, const fl::TensorBundle& global);
  // Personalisation of a line_encoder model (model::PersonaliseSite): `rounds` local rounds from
  // `global` on the training lines (feedback verdicts included), kept only when the detector's F1
  // on the held-out validation lines is not lower than `global`'s. Each round does the work of the
  // last round this trainer ran (LocalWork's defaults before any), seeded from that plan's seed.
  // InvalidArgument for another arch or rounds < 0; rounds == 0 keeps `global` untrained.
  absl::StatusOr<model::PersonaliseResult> Personalise(const v1::ModelSpec& spec,
                                                       const fl::TensorBundle& global, int rounds);

 private:
  absl::Status PrepareMlp(const v1::ModelSpec& spec);
  absl::Status PrepareEncoder(const model::EncoderSpec& spec);
  // Appends feedback verdicts not merged yet to encoder_data_->train.
  absl::Status MergeFeedback();
  absl::StatusOr<LocalUpdate> TrainMlp(const v1::RoundTask& task, const fl::TensorBundle& global);
  absl::StatusOr<LocalUpdate> TrainEncoder(const v1::RoundTask& task,
                                           const fl::TensorBundle& global);
  model::RuntimeOptions Runtime(uint64_t seed) const;

  const std::vector<SourceLines>* sources_;
  const SiteTrainerOptions options_;
  std::optional<LocalDataset> mlp_data_;
  int mlp_dim_ = 0;
  std::optional<EncoderData> encoder_data_;
  int encoder_dense_dim_ = -1;
  std::optional<v1::TrainingPlan> last_plan_;  // of the last line-encoder round trained
  absl::flat_hash_set<std::string> merged_feedback_;  // origins ("feedback:<alert id>") already in train
};

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_TRAINER_H_
