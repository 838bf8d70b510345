#include "common/model/encoder_site_data.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/features/batch_featurizer.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/model/line_input.h"

namespace fedlog::model {
namespace {

// Drain numbers templates per source from 0; the encoder's template alignment must not pair
// template 3 of Apache with template 3 of Linux.
constexpr int64_t kTemplateStride = 1'000'000;

// One source's lines through its own parser and Drain and the site's featurizer.
absl::StatusOr<LineSet> FeaturizeSource(const SourceLines& source, int64_t template_offset,
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
  LineSet lines = FromBatch(batch, source.name, labels);
  for (int64_t& t : lines.template_ids) {
    if (t >= 0) t += template_offset;
  }
  return lines;
}

}  // namespace

absl::StatusOr<EncoderSpec> EncoderSpecFromProto(const v1::ModelSpec& proto) {
  const v1::LineEncoderSpec& e = proto.encoder();
  EncoderSpec spec;
  if (e.vocab_buckets() > 0) spec.vocab_buckets = e.vocab_buckets();
  if (e.token_dim() > 0) spec.token_dim = e.token_dim();
  spec.dense_dim = e.dense_dim();
  if (!e.hidden().empty()) spec.hidden.assign(e.hidden().begin(), e.hidden().end());
  if (e.out_dim() > 0) spec.out_dim = e.out_dim();
  if (e.dropout() > 0) spec.dropout = e.dropout();
  if (e.adapter_dim() > 0) spec.adapter_dim = e.adapter_dim();
  if (e.head_dim() > 0) spec.head_dim = e.head_dim();
  spec.init_seed = proto.init_seed();
  FEDLOG_RETURN_IF_ERROR(ValidateEncoderSpec(spec));
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
  LineSet all;
  for (size_t i = 0; i < sources.size(); ++i) {
    const SourceLines& s = sources[i];
    if (std::find(data.sources.begin(), data.sources.end(), s.name) == data.sources.end()) {
      data.sources.push_back(s.name);
    }
    absl::StatusOr<LineSet> lines =
        FeaturizeSource(s, static_cast<int64_t>(i) * kTemplateStride, labeled, &featurizer);
    if (!lines.ok()) return Annotate(lines.status(), absl::StrCat("source '", s.name, "'"));
    AppendLineSet(*lines, &all);
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
  data.train = SelectLines(all, train);
  data.validation = SelectLines(all, validation);
  data.test = SelectLines(all, test);
  data.held_out = static_cast<int64_t>(held);
  return data;
}

std::vector<int64_t> SupportRows(const LineSet& lines, int k, uint64_t seed) {
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

LineSet SampleSupport(const LineSet& lines, int k, uint64_t seed) {
  return SelectLines(lines, SupportRows(lines, k, seed));
}

absl::StatusOr<DetectionMetrics> EvaluateDetector(const EncoderSpec& site_spec,
                                                  const fl::TensorBundle& weights,
                                                  const LineSet& support, const EncoderData& data,
                                                  const RuntimeOptions& runtime) {
  if (!HasBothClasses(data.test.labels)) {
    return absl::FailedPreconditionError("the held-out test lines lack a class");
  }
  AdaptOptions adapt;
  adapt.runtime = runtime;
  FEDLOG_ASSIGN_OR_RETURN(FewShotModel detector,
                          BuildSiteDetector(site_spec, weights, support, data.validation, adapt));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> scores,
                          ScoreFewShot(site_spec, detector, data.test, runtime));
  // AUROC from a monotone squashing of the raw score that does not saturate (|raw| <= 4 * scale):
  // a steep Platt fit rounds many calibrated scores to exactly 1.0f, which would tie them.
  FewShotModel ranking = detector;
  ranking.platt = PlattScaling{0.25 / std::max(1.0f, detector.distance_scale), 0.0};
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> raw,
                          ScoreFewShot(site_spec, ranking, data.test, runtime));
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

LocalWork WorkFromPlan(const v1::TrainingPlan& plan, int round, const RuntimeOptions& runtime) {
  LocalWork work;
  if (plan.contrastive_steps() > 0 || plan.meta_iterations() > 0) {
    work.contrastive_steps = std::max(0, plan.contrastive_steps());
    work.meta_iterations = std::max(0, plan.meta_iterations());
    work.inner_steps = std::max(0, plan.inner_steps());
  }
  if (plan.batch_size() > 0) work.batch_size = plan.batch_size();
  if (plan.learning_rate() > 0) work.learning_rate = plan.learning_rate();
  work.fedprox_mu = std::max(0.0f, plan.fedprox_mu());
  if (plan.line_dp_noise_multiplier() > 0) {  // line-level DP-SGD (dp_sgd.h); validated by RunSiteRound
    work.line_dp.noise_multiplier = plan.line_dp_noise_multiplier();
    work.line_dp.clip = plan.line_dp_clip();
    if (plan.line_dp_delta() > 0) work.line_dp.delta = plan.line_dp_delta();
    // Checked at the site before the round (client ValidateTaskPrivacy) and again by RunSiteRound.
    if (plan.line_dp_objective() == "episodes") work.line_dp.labeled_objective = LabeledDpObjective::kEpisodes;
    work.line_dp.contrastive = plan.line_dp_contrastive();
    if (plan.line_dp_scope() == "all") work.line_dp.scope = DpScope::kAll;  // "" or "adapters": the default
    if (plan.line_dp_anomalous_rate() != 0) work.line_dp.anomalous_rate = plan.line_dp_anomalous_rate();
    if (plan.line_dp_normal_lines() != 0) work.line_dp.normal_lines_per_step = plan.line_dp_normal_lines();
    // The class-sum release (common/privacy/class_sums.h): once, in the plan's release round.
    work.line_dp.prototype_noise = plan.line_dp_prototype_noise();
    work.line_dp.release_prototypes = plan.line_dp_prototype_round() > 0 && round == plan.line_dp_prototype_round();
    // Under secure aggregation each site adds only its share N(0, s^2 / t) (client ValidateTaskPrivacy checks t).
    work.line_dp.prototype_noise_shares = std::max(1, plan.line_dp_prototype_noise_shares());
    work.line_dp.prototype_directions = plan.line_dp_prototype_directions();
  }
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

}  // namespace fedlog::model
