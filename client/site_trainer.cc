#include "client/site_trainer.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/detect/detect_store.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/features/batch_featurizer.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/model/line_input.h"
#include "common/model/local_trainer.h"

namespace fedlog::client {
namespace {

constexpr char kLineEncoder[] = "line_encoder";
// Drain numbers templates per source from 0; the encoder's template alignment must not pair
// template 3 of Apache with template 3 of Linux.
constexpr int64_t kTemplateStride = 1'000'000;
// Personalisation's seeds are offset from the plan's so they never replay a federated round's.
constexpr uint64_t kPersonaliseSeedOffset = 1'000'003;

double MeanScore(const model::MlpSpec& spec, const fl::TensorBundle& w, const DenseMatrix& x,
                 const std::string& device) {
  if (x.rows == 0) return 0;
  absl::StatusOr<std::vector<float>> s = model::Score(spec, w, x, device);
  if (!s.ok()) return 0;
  double sum = 0;
  for (float v : *s) sum += v;
  return sum / static_cast<double>(s->size());
}

model::MlpSpec MlpSpecOf(const v1::ModelSpec& proto) {
  model::MlpSpec spec;
  spec.input_dim = proto.input_dim();
  spec.hidden.assign(proto.hidden().begin(), proto.hidden().end());
  return spec;
}

std::string ArchOf(const v1::RoundTask& task) {
  return task.spec().arch().empty() ? "mlp_autoencoder" : task.spec().arch();
}

// One source's lines through its own parser and Drain and the site's featurizer.
absl::StatusOr<model::LineSet> FeaturizeSource(const SourceLines& source, int64_t template_offset,
                                               bool site_has_labels,
                                               features::StreamFeaturizer* featurizer) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<logparse::LineParser> parser,
                          logparse::CreateLineParser(source.format));
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<logparse::Drain> drain, logparse::Drain::Create({}));
  std::vector<std::string_view> views(source.raw.begin(), source.raw.end());
  features::FeaturizedBatch batch;
  FEDLOG_RETURN_IF_ERROR(
      features::FeaturizeLog(*parser, drain.get(), featurizer, source.name, views, &batch));
  std::vector<int> labels = source.labels;
  if (site_has_labels && labels.empty()) labels.assign(source.raw.size(), -1);
  model::LineSet lines = model::FromBatch(batch, source.name, labels);
  for (int64_t& t : lines.template_ids) {
    if (t >= 0) t += template_offset;
  }
  return lines;
}

}  // namespace

absl::StatusOr<model::EncoderSpec> EncoderSpecFromProto(const v1::ModelSpec& proto) {
  if (proto.arch() != kLineEncoder) {
    return absl::InvalidArgumentError(
        absl::StrCat("model arch '", proto.arch(), "' is not ", kLineEncoder));
  }
  const v1::LineEncoderSpec& e = proto.encoder();
  model::EncoderSpec spec;
  if (e.vocab_buckets() > 0) spec.vocab_buckets = e.vocab_buckets();
  if (e.token_dim() > 0) spec.token_dim = e.token_dim();
  spec.dense_dim = e.dense_dim();
  if (!e.hidden().empty()) spec.hidden.assign(e.hidden().begin(), e.hidden().end());
  if (e.out_dim() > 0) spec.out_dim = e.out_dim();
  if (e.dropout() > 0) spec.dropout = e.dropout();
  if (e.adapter_dim() > 0) spec.adapter_dim = e.adapter_dim();
  if (e.head_dim() > 0) spec.head_dim = e.head_dim();
  spec.init_seed = proto.init_seed();
  FEDLOG_RETURN_IF_ERROR(model::ValidateEncoderSpec(spec));
  return spec;
}

absl::StatusOr<EncoderData> BuildEncoderData(const std::vector<SourceLines>& sources, int dense_dim,
                                             int holdout_percent, uint64_t seed) {
  FEDLOG_ASSIGN_OR_RETURN(features::StreamFeaturizer featurizer,
                          features::StreamFeaturizer::Create());
  if (dense_dim != 0 && dense_dim != featurizer.dim()) {
    return absl::InvalidArgumentError(absl::StrCat("the model expects ", dense_dim,
                                                   " dense features per line; this site computes ",
                                                   featurizer.dim()));
  }
  const bool labeled = std::any_of(sources.begin(), sources.end(),
                                   [](const SourceLines& s) { return !s.labels.empty(); });
  EncoderData data;
  model::LineSet all;
  for (size_t i = 0; i < sources.size(); ++i) {
    const SourceLines& s = sources[i];
    if (std::find(data.sources.begin(), data.sources.end(), s.name) == data.sources.end()) {
      data.sources.push_back(s.name);
    }
    absl::StatusOr<model::LineSet> lines =
        FeaturizeSource(s, static_cast<int64_t>(i) * kTemplateStride, labeled, &featurizer);
    if (!lines.ok()) return Annotate(lines.status(), absl::StrCat("source '", s.name, "'"));
    model::AppendLineSet(*lines, &all);
  }
  if (dense_dim == 0) all.dense = DenseMatrix();
  std::vector<int64_t> rows(static_cast<size_t>(all.size()));
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), std::mt19937_64(seed));
  const size_t held = rows.size() * static_cast<size_t>(std::clamp(holdout_percent, 0, 90)) / 100;
  std::vector<int64_t> train(rows.begin() + static_cast<std::ptrdiff_t>(held), rows.end());
  std::vector<int64_t> validation, test;
  for (size_t i = 0; i < held; ++i) {
    if (all.labels.empty() || all.labels[rows[i]] < 0) continue;
    ((validation.size() <= test.size()) ? validation : test).push_back(rows[i]);
  }
  std::sort(train.begin(), train.end());
  data.train = model::SelectLines(all, train);
  data.validation = model::SelectLines(all, validation);
  data.test = model::SelectLines(all, test);
  data.held_out = static_cast<int64_t>(held);
  return data;
}

std::vector<int64_t> SupportRows(const model::LineSet& lines, int k, uint64_t seed) {
  std::vector<int64_t> normal, anomalous;
  for (size_t i = 0; i < lines.labels.size(); ++i) {
    if (lines.labels[i] == 0) normal.push_back(static_cast<int64_t>(i));
    if (lines.labels[i] > 0) anomalous.push_back(static_cast<int64_t>(i));
  }
  std::mt19937_64 rng(seed);
  std::vector<int64_t> chosen;
  for (std::vector<int64_t>* rows : {&normal, &anomalous}) {
    std::shuffle(rows->begin(), rows->end(), rng);
    const size_t take = std::min(rows->size(), static_cast<size_t>(std::max(0, k)));
    chosen.insert(chosen.end(), rows->begin(), rows->begin() + static_cast<std::ptrdiff_t>(take));
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

model::LineSet SampleSupport(const model::LineSet& lines, int k, uint64_t seed) {
  return model::SelectLines(lines, SupportRows(lines, k, seed));
}

absl::StatusOr<DetectionMetrics> EvaluateDetector(const model::EncoderSpec& site_spec,
                                                  const fl::TensorBundle& weights,
                                                  const model::LineSet& support,
                                                  const EncoderData& data,
                                                  const model::RuntimeOptions& runtime) {
  if (!model::HasBothClasses(data.test.labels)) {
    return absl::FailedPreconditionError("the held-out test lines lack a class");
  }
  model::AdaptOptions adapt;
  adapt.runtime = runtime;
  FEDLOG_ASSIGN_OR_RETURN(
      model::FewShotModel detector,
      model::BuildSiteDetector(site_spec, weights, support, data.validation, adapt));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> scores,
                          model::ScoreFewShot(site_spec, detector, data.test, runtime));
  // AUROC from a monotone squashing of the raw score that does not saturate (|raw| <= 4 * scale):
  // a steep Platt fit rounds many calibrated scores to exactly 1.0f, which would tie them.
  model::FewShotModel ranking = detector;
  ranking.platt = model::PlattScaling{0.25 / std::max(1.0f, detector.distance_scale), 0.0};
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> raw,
                          model::ScoreFewShot(site_spec, ranking, data.test, runtime));
  std::vector<int> y;
  for (int label : data.test.labels) y.push_back(label > 0 ? 1 : 0);
  std::vector<double> s(scores.begin(), scores.end());
  FEDLOG_ASSIGN_OR_RETURN(eval::BinaryMetrics m, eval::EvaluateScores(y, s, detector.threshold));
  FEDLOG_ASSIGN_OR_RETURN(double auroc,
                          eval::Auroc(y, std::vector<double>(raw.begin(), raw.end())));
  DetectionMetrics out;
  out.f1 = m.f1;
  out.precision = m.precision;
  out.recall = m.recall;
  out.auroc = auroc;
  out.lines = data.test.size();
  out.anomalies = std::accumulate(y.begin(), y.end(), int64_t{0});
  out.shots = detector.shots;
  out.threshold = detector.threshold;
  return out;
}

model::LocalWork WorkFromPlan(const v1::TrainingPlan& plan, int round,
                              const model::RuntimeOptions& runtime) {
  model::LocalWork work;
  if (plan.contrastive_steps() > 0 || plan.meta_iterations() > 0) {
    work.contrastive_steps = std::max(0, plan.contrastive_steps());
    work.meta_iterations = std::max(0, plan.meta_iterations());
    work.inner_steps = std::max(0, plan.inner_steps());
  }
  if (plan.batch_size() > 0) work.batch_size = plan.batch_size();
  if (plan.learning_rate() > 0) work.learning_rate = plan.learning_rate();
  work.fedprox_mu = std::max(0.0f, plan.fedprox_mu());
  work.runtime = runtime;
  work.runtime.seed = plan.seed() + static_cast<uint64_t>(round);
  return work;
}

absl::StatusOr<fl::TensorBundle> UpdateDelta(const fl::TensorBundle& weights,
                                             const fl::TensorBundle& base) {
  fl::TensorBundle delta;
  for (const fl::NamedTensor& t : weights.tensors) {
    fl::NamedTensor d = t;
    if (const fl::NamedTensor* b = base.Find(t.name); b != nullptr) {
      if (b->shape != t.shape || b->values.size() != t.values.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", t.name, "' changed shape during local training"));
      }
      for (size_t i = 0; i < d.values.size(); ++i) d.values[i] -= b->values[i];
    }
    delta.tensors.push_back(std::move(d));
  }
  return delta;
}

SiteTrainer::SiteTrainer(const std::vector<SourceLines>* sources, SiteTrainerOptions options)
    : sources_(sources), options_(std::move(options)) {}

model::RuntimeOptions SiteTrainer::Runtime(uint64_t seed) const {
  model::RuntimeOptions r;
  r.device = options_.device;
  r.threads = options_.threads;
  r.seed = seed;
  return r;
}

absl::Status SiteTrainer::PrepareMlp(const v1::ModelSpec& spec) {
  if (!mlp_data_ || mlp_dim_ != spec.input_dim()) {
    mlp_data_ =
        BuildDataset(*sources_, spec.input_dim(), options_.holdout_percent, options_.split_seed);
    mlp_dim_ = spec.input_dim();
  }
  return absl::OkStatus();
}

absl::Status SiteTrainer::PrepareEncoder(const model::EncoderSpec& spec) {
  if (encoder_data_ && encoder_dense_dim_ == spec.dense_dim) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(
      encoder_data_,
      BuildEncoderData(*sources_, spec.dense_dim, options_.holdout_percent, options_.split_seed));
  encoder_dense_dim_ = spec.dense_dim;
  merged_feedback_.clear();
  return absl::OkStatus();
}

absl::Status SiteTrainer::MergeFeedback() {
  if (options_.feedback_db.empty() || !FileExists(options_.feedback_db)) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<detect::DetectStore> store,
                          detect::DetectStore::Open(options_.feedback_db));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<detect::LabeledLine> labeled, store->LoadLabels(""));
  model::LineSet& train = encoder_data_->train;
  int64_t added = 0, skipped = 0;
  for (const detect::LabeledLine& l : labeled) {
    // labels_file rows are the configured labels, already in the training lines.
    if (!absl::StartsWith(l.origin, "feedback:") || merged_feedback_.contains(l.origin)) continue;
    merged_feedback_.insert(l.origin);
    const bool known_source = std::find(encoder_data_->sources.begin(), encoder_data_->sources.end(),
                                        l.source) != encoder_data_->sources.end();
    if (!known_source || static_cast<int64_t>(l.dense.size()) != train.dense.cols) {
      ++skipped;  // a source no longer configured, or features of another model shape
      continue;
    }
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
  if (added + skipped > 0) {
    FEDLOG_LOG(INFO) << "feedback: " << added << " operator verdict(s) joined the training lines as labels"
                     << (skipped > 0 ? absl::StrCat(", ", skipped, " skipped (unknown source or shape)") : "");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::EvaluationReport> SiteTrainer::Evaluate(const v1::RoundTask& task,
                                                           const fl::TensorBundle& global) {
  v1::EvaluationReport report;
  auto& metrics = *report.mutable_metrics();
  if (ArchOf(task) != kLineEncoder) {
    FEDLOG_RETURN_IF_ERROR(PrepareMlp(task.spec()));
    report.set_num_samples(mlp_data_->holdout.rows);
    metrics["holdout_loss"] =
        MeanScore(MlpSpecOf(task.spec()), global, mlp_data_->holdout, options_.device);
    return report;
  }
  FEDLOG_ASSIGN_OR_RETURN(model::EncoderSpec spec, EncoderSpecFromProto(task.spec()));
  FEDLOG_RETURN_IF_ERROR(PrepareEncoder(spec));
  const EncoderData& data = *encoder_data_;
  report.set_num_samples(data.test.size());
  if (!model::HasBothClasses(data.test.labels)) return report;  // nothing to measure F1 on
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                          model::PrepareSiteWeights(spec, global, data.sources));
  const model::EncoderSpec site = model::SiteSpec(spec, data.sources);
  const model::RuntimeOptions runtime = Runtime(task.plan().seed());
  // Zero-shot: the prototypes the global model carries for this site's sources, if any yet.
  absl::StatusOr<DetectionMetrics> zero = EvaluateDetector(site, start, {}, data, runtime);
  if (zero.ok()) {
    metrics["holdout_f1_k0"] = zero->f1;
    metrics["holdout_auroc_k0"] = zero->auroc;
  } else if (zero.status().code() != absl::StatusCode::kFailedPrecondition) {
    return zero.status();
  }
  const model::LineSet support = SampleSupport(data.train, options_.eval_shots, task.plan().seed());
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

absl::StatusOr<LocalUpdate> SiteTrainer::Train(const v1::RoundTask& task,
                                               const fl::TensorBundle& global) {
  return ArchOf(task) == kLineEncoder ? TrainEncoder(task, global) : TrainMlp(task, global);
}

absl::StatusOr<LocalUpdate> SiteTrainer::TrainMlp(const v1::RoundTask& task,
                                                  const fl::TensorBundle& global) {
  FEDLOG_RETURN_IF_ERROR(PrepareMlp(task.spec()));
  const model::MlpSpec spec = MlpSpecOf(task.spec());
  model::TrainOptions opts;
  opts.epochs = task.plan().local_epochs();
  opts.learning_rate = task.plan().learning_rate();
  opts.batch_size = task.plan().batch_size();
  opts.seed = task.plan().seed() + static_cast<uint64_t>(task.round());
  opts.device = options_.device;
  FEDLOG_ASSIGN_OR_RETURN(model::TrainResult trained,
                          model::Train(spec, global, mlp_data_->train, opts));
  LocalUpdate out;
  FEDLOG_ASSIGN_OR_RETURN(out.delta, fl::Subtract(trained.weights, global));
  out.header.set_num_samples(trained.samples);
  out.header.set_train_loss(trained.final_loss);
  out.header.set_distinct_templates(mlp_data_->distinct_templates);
  out.header.set_imbalance_ratio(1.0);  // the foundation model trains without labels
  auto& metrics = *out.header.mutable_metrics();
  metrics["initial_loss"] = trained.initial_loss;
  metrics["holdout_loss_local"] =
      MeanScore(spec, trained.weights, mlp_data_->holdout, options_.device);
  metrics["train_seconds"] = trained.seconds;
  out.summary =
      absl::StrCat("trained on ", trained.samples, " lines in ", trained.seconds, " s (",
                   trained.device, "), loss ", trained.initial_loss, " -> ", trained.final_loss);
  return out;
}

absl::StatusOr<LocalUpdate> SiteTrainer::TrainEncoder(const v1::RoundTask& task,
                                                      const fl::TensorBundle& global) {
  FEDLOG_ASSIGN_OR_RETURN(model::EncoderSpec spec, EncoderSpecFromProto(task.spec()));
  FEDLOG_RETURN_IF_ERROR(PrepareEncoder(spec));
  FEDLOG_RETURN_IF_ERROR(MergeFeedback());
  const EncoderData& data = *encoder_data_;
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle start,
                          model::PrepareSiteWeights(spec, global, data.sources));
  const model::LocalWork work = WorkFromPlan(task.plan(), task.round(), Runtime(0));
  last_plan_ = task.plan();
  FEDLOG_ASSIGN_OR_RETURN(model::SiteRoundResult r,
                          model::RunSiteRound(model::SiteSpec(spec, data.sources), start,
                                              data.train, data.validation, work));
  LocalUpdate out;
  FEDLOG_ASSIGN_OR_RETURN(out.delta, UpdateDelta(r.weights, global));
  out.header.set_num_samples(r.samples);
  out.header.set_train_loss(r.contrastive_loss);  // every site runs it: comparable across sites
  out.header.set_distinct_templates(r.distinct_templates);
  out.header.set_imbalance_ratio(r.imbalance_ratio);
  out.header.mutable_metrics()->insert(r.metrics.begin(), r.metrics.end());
  (*out.header.mutable_metrics())["train_seconds"] = r.seconds;
  out.summary =
      absl::StrCat("trained the line encoder on ", r.samples, " lines (", work.contrastive_steps,
                   " contrastive steps, loss ", r.contrastive_loss, "; ", work.meta_iterations,
                   " meta-iterations, loss ", r.meta_loss, ") in ", r.seconds, " s");
  return out;
}

absl::StatusOr<model::PersonaliseResult> SiteTrainer::Personalise(const v1::ModelSpec& proto,
                                                                 const fl::TensorBundle& global,
                                                                 int rounds) {
  FEDLOG_ASSIGN_OR_RETURN(model::EncoderSpec spec, EncoderSpecFromProto(proto));
  FEDLOG_RETURN_IF_ERROR(PrepareEncoder(spec));
  FEDLOG_RETURN_IF_ERROR(MergeFeedback());
  const EncoderData& data = *encoder_data_;
  const uint64_t seed = (last_plan_ ? last_plan_->seed() : 0) + kPersonaliseSeedOffset;
  model::PersonaliseOptions options;
  options.rounds = rounds;
  if (last_plan_) options.work = WorkFromPlan(*last_plan_, 0, Runtime(0));
  options.work.runtime = Runtime(seed);
  options.adapt.runtime = Runtime(seed);
  const model::LineSet support = SampleSupport(data.train, options_.eval_shots, seed);
  return model::PersonaliseSite(model::SiteSpec(spec, data.sources), global, data.train, support,
                                data.validation, options);
}

}  // namespace fedlog::client
