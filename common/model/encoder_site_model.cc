// LineEncoderModel: the SiteModel of arch "line_encoder" (site_model.h), a site's round of the
// learned encoder (site_round.h) over its lines as encoder_site_data.h prepares them.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/features/stream_featurizer.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/encoder_site_data.h"
#include "common/model/site_model_impl.h"

namespace fedlog::model {
namespace {

constexpr char kArch[] = "line_encoder";
// Personalisation's seeds are offset from the plan's so they never replay a federated round's.
constexpr uint64_t kPersonaliseSeedOffset = 1'000'003;

// The aggregator's defaults for LineEncoderSpec (config.proto).
absl::Status FinalizeEncoder(v1::LineEncoderSpec* e) {
  if (e->vocab_buckets() <= 0) e->set_vocab_buckets(32768);
  if (e->token_dim() <= 0) e->set_token_dim(64);
  if (e->dense_dim() < 0)
    return absl::InvalidArgumentError("model.encoder.dense_dim must not be negative");
  if (e->dense_dim() == 0) {
    // The site daemons featurize with the default StreamFeaturizer; its width is the encoder's
    // dense input.
    FEDLOG_ASSIGN_OR_RETURN(features::StreamFeaturizer featurizer,
                            features::StreamFeaturizer::Create());
    e->set_dense_dim(featurizer.dim());
  }
  if (e->hidden().empty()) e->add_hidden(256);
  for (int h : e->hidden()) {
    if (h <= 0) return absl::InvalidArgumentError("model.encoder.hidden widths must be positive");
  }
  if (e->out_dim() <= 0) e->set_out_dim(128);
  if (e->dropout() == 0) e->set_dropout(0.1f);
  if (!(e->dropout() >= 0 && e->dropout() < 1)) {
    return absl::InvalidArgumentError("model.encoder.dropout must be in [0, 1)");
  }
  if (e->adapter_dim() <= 0) e->set_adapter_dim(32);
  if (e->head_dim() <= 0) e->set_head_dim(128);
  return absl::OkStatus();
}

class LineEncoderModel : public SiteModel {
 public:
  explicit LineEncoderModel(const v1::ModelSpec& spec) : spec_(spec) {}

  std::string arch() const override { return kArch; }

  absl::Status FinalizeSpec(v1::ModelSpec* spec) const override {
    if (spec->input_dim() != 0 || !spec->hidden().empty()) {
      // Configs written when mlp_autoencoder was the default name its fields without an arch.
      return absl::InvalidArgumentError(
          "model.input_dim and model.hidden belong to arch mlp_autoencoder; line_encoder (the "
          "default "
          "arch) is shaped by model.encoder (docs/OPERATIONS.md)");
    }
    spec->set_arch(kArch);
    return FinalizeEncoder(spec->mutable_encoder());
  }

  absl::StatusOr<fl::TensorBundle> InitialWeights() const override {
    FEDLOG_ASSIGN_OR_RETURN(EncoderSpec spec, EncoderSpecFromProto(spec_));
    return InitialEncoderWeights(spec);
  }

  std::optional<fl::UpdateCheckOptions> OptionalSchema() const override {
    fl::UpdateCheckOptions schema;
    schema.out_dim = spec_.encoder().out_dim();
    schema.adapter_dim = spec_.encoder().adapter_dim();
    return schema;
  }

  absl::StatusOr<EncoderSpec> DetectorSpec() const override { return EncoderSpecFromProto(spec_); }

  absl::Status Prepare(const std::vector<SourceLines>* sources,
                       const SiteModelOptions& options) override {
    options_ = options;
    FEDLOG_ASSIGN_OR_RETURN(spec_shape_, EncoderSpecFromProto(spec_));
    FEDLOG_ASSIGN_OR_RETURN(data_, BuildEncoderData(*sources, spec_shape_.dense_dim,
                                                    options.holdout_percent, options.split_seed));
    return absl::OkStatus();
  }

  absl::StatusOr<v1::EvaluationReport> Evaluate(const fl::TensorBundle& global,
                                                const v1::TrainingPlan& plan) override;
  absl::StatusOr<RoundUpdate> Train(const fl::TensorBundle& global, const v1::TrainingPlan& plan,
                                    int round) override;
  absl::StatusOr<PersonaliseResult> Personalise(const fl::TensorBundle& global, int rounds,
                                                const v1::TrainingPlan* last_plan) override;
  int64_t AddLabeledLines(const std::vector<LabeledExample>& lines) override;

 private:
  absl::Status CheckPrepared() const {
    return data_ ? absl::OkStatus()
                 : absl::FailedPreconditionError("the line encoder has no site lines (Prepare)");
  }
  RuntimeOptions Runtime(uint64_t seed) const {
    RuntimeOptions r;
    r.device = options_.device;
    r.threads = options_.threads;
    r.seed = seed;
    return r;
  }

  const v1::ModelSpec spec_;
  SiteModelOptions options_;
  EncoderSpec spec_shape_;  // spec_ decoded, by Prepare
  std::optional<EncoderData> data_;
};

absl::StatusOr<v1::EvaluationReport> LineEncoderModel::Evaluate(const fl::TensorBundle& global,
                                                                const v1::TrainingPlan& plan) {
  FEDLOG_RETURN_IF_ERROR(CheckPrepared());
  v1::EvaluationReport report;
  // Under line DP the held-out F1 and AUROC (and the test line count) are exact statistics of the
  // site's lines, outside every DP step: nothing is reported (docs/PRIVACY.md, "What is withheld").
  if (plan.line_dp_noise_multiplier() > 0) return report;
  auto& metrics = *report.mutable_metrics();
  const EncoderData& data = *data_;
  report.set_num_samples(data.test.size());
  if (!HasBothClasses(data.test.labels)) return report;  // nothing to measure F1 on
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                          PrepareSiteWeights(spec_shape_, global, data.sources));
  const EncoderSpec site = SiteSpec(spec_shape_, data.sources);
  const RuntimeOptions runtime = Runtime(plan.seed());
  // Zero-shot: the prototypes the global model carries for this site's sources, if any yet.
  absl::StatusOr<DetectionMetrics> zero = EvaluateDetector(site, start, {}, data, runtime);
  if (zero.ok()) {
    metrics["holdout_f1_k0"] = zero->f1;
    metrics["holdout_auroc_k0"] = zero->auroc;
  } else if (zero.status().code() != absl::StatusCode::kFailedPrecondition) {
    return zero.status();
  }
  const LineSet support = SampleSupport(data.train, options_.eval_shots, plan.seed());
  absl::StatusOr<DetectionMetrics> k = EvaluateDetector(site, start, support, data, runtime);
  if (k.ok()) {
    metrics["holdout_f1"] = k->f1;
    metrics["holdout_auroc"] = k->auroc;
    metrics["holdout_shots"] = k->shots;
  } else if (k.status().code() != absl::StatusCode::kFailedPrecondition) {
    return k.status();
  }
  return report;
}

absl::StatusOr<RoundUpdate> LineEncoderModel::Train(const fl::TensorBundle& global,
                                                    const v1::TrainingPlan& plan, int round) {
  FEDLOG_RETURN_IF_ERROR(CheckPrepared());
  const EncoderData& data = *data_;
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                          PrepareSiteWeights(spec_shape_, global, data.sources));
  const LocalWork work = WorkFromPlan(plan, round, Runtime(0));
  FEDLOG_ASSIGN_OR_RETURN(
      SiteRoundResult r,
      RunSiteRound(SiteSpec(spec_shape_, data.sources), start, data.train, data.validation, work));
  RoundUpdate out;
  FEDLOG_ASSIGN_OR_RETURN(out.delta, UpdateDelta(r.weights, global));
  out.header.set_num_samples(r.samples);
  out.header.set_train_loss(r.contrastive_loss);  // every site runs it: comparable across sites
  out.header.set_distinct_templates(r.distinct_templates);
  out.header.set_imbalance_ratio(r.imbalance_ratio);
  out.header.mutable_metrics()->insert(r.metrics.begin(), r.metrics.end());
  (*out.header.mutable_metrics())["train_seconds"] = r.seconds;
  for (const LineDpPhase& p : r.line_dp_phases) {
    if (p.steps > 0) out.line_dp.push_back({p.q, p.sigma, p.steps});
  }
  out.summary =
      absl::StrCat("trained the line encoder on ", r.samples, " lines (", work.contrastive_steps,
                   " contrastive steps, loss ", r.contrastive_loss, "; ", work.meta_iterations,
                   " meta-iterations, loss ", r.meta_loss, ") in ", r.seconds, " s");
  return out;
}

absl::StatusOr<PersonaliseResult> LineEncoderModel::Personalise(const fl::TensorBundle& global,
                                                                int rounds,
                                                                const v1::TrainingPlan* last_plan) {
  FEDLOG_RETURN_IF_ERROR(CheckPrepared());
  const EncoderData& data = *data_;
  const uint64_t seed = (last_plan != nullptr ? last_plan->seed() : 0) + kPersonaliseSeedOffset;
  PersonaliseOptions options;
  options.rounds = rounds;
  if (last_plan != nullptr) options.work = WorkFromPlan(*last_plan, 0, Runtime(0));
  options.work.runtime = Runtime(seed);
  options.adapt.runtime = Runtime(seed);
  const LineSet support = SampleSupport(data.train, options_.eval_shots, seed);
  return PersonaliseSite(SiteSpec(spec_shape_, data.sources), global, data.train, support,
                         data.validation, options);
}

int64_t LineEncoderModel::AddLabeledLines(const std::vector<LabeledExample>& lines) {
  if (!data_) return 0;
  LineSet& train = data_->train;
  int64_t added = 0;
  for (const LabeledExample& l : lines) {
    const bool known_source =
        std::find(data_->sources.begin(), data_->sources.end(), l.source) != data_->sources.end();
    if (!known_source || static_cast<int64_t>(l.dense.size()) != train.dense.cols) continue;
    if (train.labels.empty()) train.labels.assign(static_cast<size_t>(train.size()), -1);
    train.tokens.push_back(l.tokens);
    if (train.dense.cols > 0) {  // a tokens-only model keeps an empty dense matrix
      train.dense.data.insert(train.dense.data.end(), l.dense.begin(), l.dense.end());
      ++train.dense.rows;
    }
    train.sources.push_back(l.source);
    if (!train.template_ids.empty()) train.template_ids.push_back(-1);
    train.labels.push_back(l.label > 0 ? 1 : 0);
    ++added;
  }
  return added;
}

}  // namespace

std::unique_ptr<SiteModel> NewLineEncoderModel(const v1::ModelSpec& spec) {
  return std::make_unique<LineEncoderModel>(spec);
}

}  // namespace fedlog::model
