// SiteModel: the one interface over the networks a federation can train (ModelSpec.arch,
// docs/MODEL.md), so that the aggregator (server/), the site trainer (client/site_trainer.h), live
// detection's model loader (client/detect/model_loader.h) and `fedlog score` have no
// per-architecture branches. CreateSiteModel is the only place that reads the arch string.
//   line_encoder (the default): the learned encoder of site_round.h; trains on every line, uses
//     labels when a site has them, and is what live detection scores with.
//   mlp_autoencoder: the foundation's autoencoder over hashed line features (local_trainer.h);
//     trains without labels or parsing-dependent shapes and cannot detect. It stays as the small
//     dense model of the federation-protocol tests (docs/MODEL.md, "One model path").
// A SiteModel is bound to one ModelSpec. Its spec-level methods (FinalizeSpec, InitialWeights,
// OptionalSchema, DetectorSpec) need no data; its site-level methods need Prepare first.
// Torch-free and gRPC-free. Thread-compatible: one caller at a time.
#ifndef FEDLOG_COMMON_MODEL_SITE_MODEL_H_
#define FEDLOG_COMMON_MODEL_SITE_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/fedavg.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/personalise.h"
#include "common/model/site_lines.h"
#include "fedlog/v1/federation.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::model {

// The arch a ModelSpec without one trains.
inline constexpr char kDefaultArch[] = "line_encoder";

// How a site holds out and evaluates its lines, and where torch runs.
struct SiteModelOptions {
  int holdout_percent = 20;
  uint64_t split_seed = 7;  // the held-out split; `fedlog score` uses the same
  int eval_shots = 10;      // labeled training lines per class in the evaluated detector's support
  std::string device = "cpu";
  int threads = 1;
};

// What a round sends back besides the evaluation report.
struct RoundUpdate {
  fl::TensorBundle delta;
  v1::UpdateHeader header;  // num_samples, train_loss, statistics, metrics incl. "train_seconds"
                            // (the daemon adds run, round and base version)
  std::string summary;      // one line for the log
  // Line-level DP (TrainingPlan.line_dp_*; common/model/dp_sgd.h): the round's sampled Gaussian mechanisms
  // (q, sigma, steps), one per phase, for the site's own ledger. Empty without line-level DP.
  struct LineDpCharge {
    double q = 0;
    double sigma = 0;
    int64_t steps = 0;
  };
  std::vector<LineDpCharge> line_dp;
};

// A line an operator labeled (e.g. a `fedlog feedback` verdict), featurized as live detection
// featurized it.
struct LabeledExample {
  std::string source;
  std::vector<int64_t> tokens;
  std::vector<float> dense;
  int label = 0;  // 0 normal, > 0 anomalous
};

class SiteModel {
 public:
  virtual ~SiteModel() = default;

  // The arch this model trains ("line_encoder", "mlp_autoencoder").
  virtual std::string arch() const = 0;

  // Fills the unset fields of `spec` (the spec this model was created from) with the arch's
  // defaults and sets spec->arch; InvalidArgument for a bad shape or fields of another arch.
  virtual absl::Status FinalizeSpec(v1::ModelSpec* spec) const = 0;
  // Deterministic initial weights (version 1 of a run) of the finalized spec.
  virtual absl::StatusOr<fl::TensorBundle> InitialWeights() const = 0;
  // The shapes of the optional tensors (fl::ExpectedOptionalShape) this network's models and
  // updates may carry, out_dim and adapter_dim set; nullopt when it has none.
  virtual std::optional<fl::UpdateCheckOptions> OptionalSchema() const = 0;
  // The encoder shape live detection and `fedlog score` build detectors with
  // (BuildSiteDetector); FailedPrecondition, saying so, for a network that cannot detect.
  virtual absl::StatusOr<EncoderSpec> DetectorSpec() const = 0;
  bool Detects() const { return DetectorSpec().ok(); }

  // Featurizes the site's lines for this network and holds out options.holdout_percent of them
  // by a seeded shuffle. `sources` must outlive the model. Call once, before the methods below.
  virtual absl::Status Prepare(const std::vector<SourceLines>* sources,
                               const SiteModelOptions& options) = 0;
  // Quality of a round's input model `global` on the held-out lines (EvaluationReport metrics).
  virtual absl::StatusOr<v1::EvaluationReport> Evaluate(const fl::TensorBundle& global,
                                                        const v1::TrainingPlan& plan) = 0;
  // A round's local work from `global` on the training lines.
  virtual absl::StatusOr<RoundUpdate> Train(const fl::TensorBundle& global,
                                            const v1::TrainingPlan& plan, int round) = 0;
  // Personalisation (PersonaliseSite): `rounds` local rounds from `global`, each doing the work
  // of `last_plan` (LocalWork's defaults when null), kept only when the detector's validation F1
  // is not lower. InvalidArgument for rounds < 0 or a network that cannot detect.
  virtual absl::StatusOr<PersonaliseResult> Personalise(const fl::TensorBundle& global, int rounds,
                                                        const v1::TrainingPlan* last_plan) = 0;
  // Appends labeled lines to the training lines (from the next Train or Personalise on); returns
  // how many joined. Lines of an unknown source or another feature width do not join; a network
  // that trains without labels takes none.
  virtual int64_t AddLabeledLines(const std::vector<LabeledExample>& lines) = 0;
};

// The model for `spec`: an empty arch is kDefaultArch; InvalidArgument for an unknown one. Cheap:
// nothing is validated or featurized until a method needs it.
absl::StatusOr<std::unique_ptr<SiteModel>> CreateSiteModel(const v1::ModelSpec& spec);

// The aggregator's config defaults: arch (kDefaultArch when empty), init_seed 42, then the arch's
// FinalizeSpec.
absl::Status FinalizeModelSpec(v1::ModelSpec* spec);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SITE_MODEL_H_
