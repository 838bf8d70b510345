#include "common/model/site_round.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fl/fedavg.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/meta_trainer.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/gaussian_noise.h"
#include "common/privacy/release_shrink.h"
#include "common/privacy/release_subspace.h"

namespace fedlog::model {
namespace {

constexpr char kAdapterPrefix[] = "adapter.";
constexpr char kGlobalPrototypes[] = "prototypes.global";
constexpr char kPrototypesSuffix[] = ".prototypes";

// The shared encoder's learning rate relative to the adapters'/head's (the trainers' defaults:
// 2e-5 vs 1e-3): the shared weights move slowly, new adapters quickly.
constexpr float kEncoderLrRatio = 2e-5f / 1e-3f;

bool IsPrototypeTensor(const std::string& name) {
  return name == kGlobalPrototypes || name == fl::kReleasedPrototypesName || name == privacy::kReleaseBasisName ||
         name == privacy::kReleaseNoiseName ||
         (absl::StartsWith(name, kAdapterPrefix) && absl::EndsWith(name, kPrototypesSuffix));
}

// The source of an `adapter.<source>.*` tensor; "" for any other name.
std::string AdapterSource(const std::string& name) {
  if (!absl::StartsWith(name, kAdapterPrefix)) return "";
  const size_t begin = sizeof(kAdapterPrefix) - 1;
  const size_t dot = name.find('.', begin);
  return dot == std::string::npos ? "" : name.substr(begin, dot - begin);
}

std::string PrototypesName(const std::string& source) {
  return absl::StrCat(kAdapterPrefix, source, kPrototypesSuffix);
}

// Encoder parameters of `weights` for `spec`: prototypes and adapters of sources `spec` does not
// list are left out (LoadEncoder accepts no extra tensor).
fl::TensorBundle EncoderTensors(const EncoderSpec& spec, const fl::TensorBundle& weights) {
  const std::set<std::string> sources(spec.sources.begin(), spec.sources.end());
  fl::TensorBundle out;
  for (const fl::NamedTensor& t : weights.tensors) {
    if (IsPrototypeTensor(t.name)) continue;
    const std::string source = AdapterSource(t.name);
    if (absl::StartsWith(t.name, kAdapterPrefix) && sources.count(source) == 0) continue;
    out.tensors.push_back(t);
  }
  return out;
}

fl::NamedTensor PrototypeTensor(const std::string& name, const DenseMatrix& protos) {
  return fl::NamedTensor{name, {protos.rows, protos.cols}, protos.data};
}

DenseMatrix TensorToPrototypes(const fl::NamedTensor& t) {
  DenseMatrix m(t.shape.size() == 2 ? t.shape[0] : 0, t.shape.size() == 2 ? t.shape[1] : 0);
  if (static_cast<int64_t>(t.values.size()) == m.rows * m.cols) m.data = t.values;
  return m;
}

// Rows of `lines` whose label is >= 0 (-1 marks an unlabeled line); none without labels.
std::vector<int64_t> LabeledRows(const LineSet& lines) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < lines.labels.size(); ++i) {
    if (lines.labels[i] >= 0) rows.push_back(static_cast<int64_t>(i));
  }
  return rows;
}

// MetaTrain needs a source with a normal class and an anomaly type of >= 2 lines each
// (episodes.h); anything less is skipped rather than failed.
bool MetaLearnable(const LineSet& labeled) {
  std::map<std::string, std::map<int, int>> counts;
  for (int64_t i = 0; i < labeled.size(); ++i) {
    ++counts[labeled.sources.empty() ? "" : labeled.sources[i]][labeled.labels[i]];
  }
  for (const auto& [source, by_label] : counts) {
    int usable = 0;
    for (const auto& [label, n] : by_label) usable += n >= 2 ? 1 : 0;
    auto normal = by_label.find(0);
    if (normal != by_label.end() && normal->second >= 2 && usable >= 2) return true;
  }
  return false;
}

int64_t DistinctTemplates(const LineSet& lines) {
  std::set<std::pair<std::string, int64_t>> seen;
  for (size_t i = 0; i < lines.template_ids.size(); ++i) {
    if (lines.template_ids[i] < 0) continue;
    seen.emplace(lines.sources.empty() ? "" : lines.sources[i], lines.template_ids[i]);
  }
  return static_cast<int64_t>(seen.size());
}

// Per-source and global prototypes of the labeled lines (each only with both classes present).
absl::Status AppendPrototypes(const EncoderSpec& spec, const LineSet& labeled,
                              const RuntimeOptions& runtime, fl::TensorBundle* weights) {
  const fl::TensorBundle encoder = EncoderTensors(spec, *weights);
  for (const std::string& source : spec.sources) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < labeled.size(); ++i) {
      if (!labeled.sources.empty() && labeled.sources[i] == source) rows.push_back(i);
    }
    LineSet mine = SelectLines(labeled, rows);
    if (!HasBothClasses(mine.labels)) continue;
    FEDLOG_ASSIGN_OR_RETURN(DenseMatrix p, ComputePrototypes(spec, encoder, mine, runtime));
    weights->tensors.push_back(PrototypeTensor(PrototypesName(source), p));
  }
  if (HasBothClasses(labeled.labels)) {
    FEDLOG_ASSIGN_OR_RETURN(DenseMatrix p, ComputePrototypes(spec, encoder, labeled, runtime));
    weights->tensors.push_back(PrototypeTensor(kGlobalPrototypes, p));
  }
  return absl::OkStatus();
}

// The prototypes a detector falls back to without support lines: the mean of its sources'
// prototypes (a one-source site: its source's own), else the global ones; empty when the bundle
// carries none.
DenseMatrix FallbackPrototypes(const EncoderSpec& spec, const fl::TensorBundle& weights) {
  auto valid = [&](const fl::NamedTensor* t) {
    return t != nullptr && t->shape == std::vector<int64_t>{2, spec.out_dim} &&
           static_cast<int64_t>(t->values.size()) == 2 * spec.out_dim;
  };
  DenseMatrix mean(2, spec.out_dim);
  int found = 0;
  for (const std::string& source : spec.sources) {
    const fl::NamedTensor* t = weights.Find(PrototypesName(source));
    if (!valid(t)) continue;
    for (size_t i = 0; i < t->values.size(); ++i) mean.data[i] += t->values[i];
    ++found;
  }
  if (found > 0) {
    for (float& v : mean.data) v /= static_cast<float>(found);
    return mean;
  }
  // Line DP: the prototypes decoded from the sites' noised class-sum release (pooled class means, or with the
  // directions form the pooled sums' unit directions; privacy::PrototypesFromRelease), before the DP-trained parameter.
  // With the pooled noise's expected energy beside it (privacy::kReleaseNoiseName, only `eval federated
  // --dp-release-shrink` attaches it) each direction is shrunk by its James-Stein weight (release_shrink.h).
  if (const fl::NamedTensor* r = weights.Find(fl::kReleasedPrototypesName);
      r != nullptr && r->shape == std::vector<int64_t>{2, spec.out_dim + 1}) {
    const fl::NamedTensor* noise = weights.Find(privacy::kReleaseNoiseName);
    const double energy = noise != nullptr && noise->values.size() == 1 ? noise->values[0] : 0.0;
    std::vector<float> p = privacy::ShrunkPrototypesFromRelease(r->values, spec.out_dim, energy);
    if (!p.empty()) {
      mean.data = std::move(p);
      return mean;
    }
  }
  const fl::NamedTensor* global = weights.Find(kGlobalPrototypes);
  if (valid(global)) return TensorToPrototypes(*global);
  return DenseMatrix();
}

// val_* metrics of freshly trained weights: a detector from the labeled training lines, its
// threshold and calibration picked on `validation` (so val_f1 is the best F1 there).
absl::Status AddValidationMetrics(const EncoderSpec& spec, const LineSet& labeled,
                                  const LineSet& validation, const LocalWork& work,
                                  SiteRoundResult* result) {
  if (validation.size() == 0 || !HasBothClasses(validation.labels)) return absl::OkStatus();
  AdaptOptions adapt;
  adapt.runtime = work.runtime;
  absl::StatusOr<FewShotModel> detector =
      BuildSiteDetector(spec, result->weights, labeled, validation, adapt);
  if (detector.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::OkStatus();  // no prototypes anywhere: nothing to measure yet
  }
  FEDLOG_RETURN_IF_ERROR(detector.status());
  result->metrics["val_f1"] = detector->validation_f1;
  result->metrics["val_lines"] = static_cast<double>(validation.size());
  return absl::OkStatus();
}

// Line-level DP: the round's epsilon, and nothing computed on the lines without noise (losses,
// validation F1) in what the site sends.
absl::Status FinishLineDpRound(const LineDpOptions& dp, SiteRoundResult* result) {
  FEDLOG_ASSIGN_OR_RETURN(result->line_dp_round_epsilon,
                          LineDpEpsilon(result->line_dp_phases, dp.delta));
  result->contrastive_loss = result->meta_loss = 0;
  result->local_only = std::move(result->metrics);
  result->metrics.clear();
  result->metrics["line_dp_round_epsilon"] = result->line_dp_round_epsilon;
  return absl::OkStatus();
}

// Line DP's release of per-class embedding sums (and counts, unless the plan asks for directions;
// common/privacy/class_sums.h): the labelled lines embedded by the round's DP-trained weights (themselves a DP
// release, so this is adaptive composition), each clipped to norm 1, summed per class, noised from the CSPRNG;
// its step is recorded with the round's phases. With a public basis in the round's start weights
// (privacy::kReleaseBasisName, common/privacy/release_subspace.h) the sums are projected onto it and noised
// there (privacy::ProjectedClassSums): the same step, less noise on what the subspace holds.
absl::Status ReleaseClassSums(const EncoderSpec& spec, const LineSet& labeled, const LocalWork& work,
                              const fl::NamedTensor* basis, SiteRoundResult* result) {
  const double s = work.line_dp.prototype_noise;
  const privacy::ClassSumForm form = work.line_dp.prototype_directions ? privacy::ClassSumForm::kDirections
                                                                       : privacy::ClassSumForm::kSumsAndCounts;
  std::vector<float> embedded;
  if (labeled.size() > 0) {
    FEDLOG_ASSIGN_OR_RETURN(DenseMatrix z,
                            Embed(spec, EncoderTensors(spec, result->weights), labeled, work.runtime));
    embedded = std::move(z.data);
  }
  FEDLOG_ASSIGN_OR_RETURN(privacy::GaussianSampler sampler, privacy::GaussianSampler::Create());
  std::vector<float> release;
  // Under secure aggregation each site adds its share N(0, s^2 / t); the accountant charges s either way, which
  // is what the sum of any >= t sites carries (common/privacy/class_sums.h).
  if (basis != nullptr) {
    if (basis->shape.size() != 2 || basis->shape[1] != spec.out_dim || basis->shape[0] < 1 ||
        basis->shape[0] > privacy::kMaxReleaseSubspace) {
      return absl::InvalidArgumentError("the release basis must be r x out_dim with r in 1..64");
    }
    FEDLOG_ASSIGN_OR_RETURN(release, privacy::ProjectedClassSums(
                                         embedded, spec.out_dim, labeled.labels, basis->values,
                                         static_cast<int>(basis->shape[0]), s, sampler,
                                         work.line_dp.prototype_noise_shares, form));
  } else {
    FEDLOG_ASSIGN_OR_RETURN(release, privacy::ClassSums(embedded, spec.out_dim, labeled.labels, form));
    FEDLOG_RETURN_IF_ERROR(privacy::NoiseClassSums(absl::MakeSpan(release), s, sampler,
                                                   work.line_dp.prototype_noise_shares, form, spec.out_dim));
  }
  result->weights.tensors.push_back(
      fl::NamedTensor{fl::kReleasedPrototypesName, {2, spec.out_dim + 1}, std::move(release)});
  const privacy::MechanismStep step = privacy::ClassSumStep(s, form);
  result->line_dp_phases.push_back({"prototypes", step.sampling_rate, step.noise_multiplier, step.steps});
  return absl::OkStatus();
}

// Line DP's per-line labelled phase (DpSupervisedTrain): its weights carry the DP-trained
// prototypes.global; its losses stay local (FinishLineDpRound).
absl::Status RunPerLinePhase(const EncoderSpec& spec, const fl::NamedTensor* prototypes,
                             const LineSet& labeled, const LocalWork& work,
                             SiteRoundResult* result) {
  MetaOptions m;
  m.meta_iterations = work.meta_iterations;
  m.meta_lr = work.learning_rate;
  m.prox_mu = work.fedprox_mu;
  m.runtime = work.runtime;
  LineDpPhase phase;
  FEDLOG_ASSIGN_OR_RETURN(DpSupervisedResult r, DpSupervisedTrain(spec, result->weights, prototypes,
                                                                  labeled, m, work.line_dp, &phase));
  result->line_dp_phases.push_back(phase);
  result->weights = std::move(r.weights);
  result->meta_loss = r.final_loss;
  result->metrics["train_meta_loss"] = r.final_loss;
  result->metrics["train_meta_initial_loss"] = r.initial_loss;
  result->metrics["train_per_line_sampled"] = static_cast<double>(r.lines_sampled);
  return absl::OkStatus();
}

}  // namespace

EncoderSpec SiteSpec(const EncoderSpec& spec, const std::vector<std::string>& sources) {
  EncoderSpec out = spec;
  out.sources = sources;
  return out;
}

absl::StatusOr<fl::TensorBundle> PrepareSiteWeights(const EncoderSpec& spec,
                                                    const fl::TensorBundle& global,
                                                    const std::vector<std::string>& sources) {
  const EncoderSpec site = SiteSpec(spec, sources);
  FEDLOG_RETURN_IF_ERROR(ValidateEncoderSpec(site));
  FEDLOG_RETURN_IF_ERROR(fl::ValidateBundle(global));
  if (global.Find("out.weight") == nullptr || global.Find("embed.weight") == nullptr) {
    return absl::InvalidArgumentError(
        "the global model has no line encoder parameters (embed.weight, out.weight)");
  }
  const std::set<std::string> mine(sources.begin(), sources.end());
  fl::TensorBundle out;
  for (const fl::NamedTensor& t : global.tensors) {
    if (t.name == kGlobalPrototypes) {
      out.tensors.push_back(t);
      continue;
    }
    if (absl::StartsWith(t.name, kAdapterPrefix) && mine.count(AdapterSource(t.name)) == 0) {
      continue;  // another site's source (an all_adapters download)
    }
    out.tensors.push_back(t);
  }
  for (const std::string& source : sources) {
    const std::string prefix = absl::StrCat(kAdapterPrefix, source, ".");
    if (global.Find(prefix + "down.weight") != nullptr) continue;
    // Every site initialises a new source's adapter identically (same spec, same init_seed), so
    // the first round's adapters of one source average sensibly; up = 0 makes it the identity.
    FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle init, InitialEncoderWeights(SiteSpec(spec, {source})));
    for (fl::NamedTensor& t : init.tensors) {
      if (absl::StartsWith(t.name, prefix)) out.tensors.push_back(std::move(t));
    }
  }
  return out;
}

absl::StatusOr<SiteRoundResult> RunSiteRound(const EncoderSpec& spec, const fl::TensorBundle& start,
                                             const LineSet& train, const LineSet& validation,
                                             const LocalWork& work) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!train.labels.empty() && static_cast<int64_t>(train.labels.size()) != train.size()) {
    return absl::InvalidArgumentError("train labels: one per line (-1: unlabeled) or none");
  }
  LineSet unlabeled = train;
  unlabeled.labels.clear();
  FEDLOG_RETURN_IF_ERROR(ValidateLineSet(spec, unlabeled));
  const LineSet labeled = SelectLines(train, LabeledRows(train));
  const bool dp = work.line_dp.enabled();
  if (dp) FEDLOG_RETURN_IF_ERROR(ValidateLineDpOptions(work.line_dp));
  SiteRoundResult result;
  result.weights = EncoderTensors(spec, start);
  result.samples = train.size();
  // Under line DP the template count and the class ratio are exact statistics of the lines with no
  // noise, so they are withheld (0 and 1 mean "unknown" to the aggregator; docs/PRIVACY.md).
  if (!dp) result.distinct_templates = DistinctTemplates(train);
  if (!dp && HasBothClasses(labeled.labels)) {
    const double anomalous = static_cast<double>(
        std::count_if(labeled.labels.begin(), labeled.labels.end(), [](int y) { return y > 0; }));
    result.imbalance_ratio = (static_cast<double>(labeled.size()) - anomalous) / anomalous;
  }
  if (work.contrastive_steps > 0 && (!dp || work.line_dp.contrastive)) {
    ContrastiveOptions c;
    c.steps = work.contrastive_steps;
    c.batch_size = work.batch_size;
    c.adapter_lr = c.head_lr = work.learning_rate;
    c.encoder_lr = work.learning_rate * kEncoderLrRatio;
    c.prox_mu = work.fedprox_mu;
    c.jaccard_weight = dp ? 0 : work.jaccard_weight;
    c.runtime = work.runtime;
    LineDpPhase phase;
    FEDLOG_ASSIGN_OR_RETURN(
        ContrastiveResult r,
        dp ? DpPretrainContrastive(spec, result.weights, unlabeled, c, work.line_dp, &phase)
           : PretrainContrastive(spec, result.weights, unlabeled, c));
    if (dp) result.line_dp_phases.push_back(phase);
    result.weights = std::move(r.weights);
    result.contrastive_loss = r.final_loss;
    result.metrics["train_contrastive_loss"] = r.final_loss;
    result.metrics["train_contrastive_initial_loss"] = r.initial_loss;
  }
  const bool per_line = dp && work.line_dp.labeled_objective == LabeledDpObjective::kPerLine;
  if (per_line && work.meta_iterations > 0 && labeled.size() > 0) {
    FEDLOG_RETURN_IF_ERROR(
        RunPerLinePhase(spec, start.Find(kGlobalPrototypes), labeled, work, &result));
  } else if (!per_line && work.meta_iterations > 0 && MetaLearnable(labeled)) {
    MetaOptions m;
    m.meta_iterations = work.meta_iterations;
    m.inner_steps = work.inner_steps;
    m.meta_lr = work.learning_rate;
    m.prox_mu = work.fedprox_mu;
    m.jaccard_weight = dp ? 0 : work.jaccard_weight;
    m.runtime = work.runtime;
    LineDpPhase phase;
    FEDLOG_ASSIGN_OR_RETURN(MetaResult r,
                            dp ? DpMetaTrain(spec, result.weights, labeled, m, work.line_dp, &phase)
                               : MetaTrain(spec, result.weights, labeled, {}, m));
    if (dp) result.line_dp_phases.push_back(phase);
    result.weights = std::move(r.weights);
    result.meta_loss = r.final_loss;
    result.metrics["train_meta_loss"] = r.final_loss;
    result.metrics["train_meta_initial_loss"] = r.initial_loss;
  }
  if (dp) {
    if (work.line_dp.release_prototypes && work.line_dp.prototype_noise > 0) {
      FEDLOG_RETURN_IF_ERROR(
          ReleaseClassSums(spec, labeled, work, start.Find(privacy::kReleaseBasisName), &result));
    }
    FEDLOG_RETURN_IF_ERROR(FinishLineDpRound(work.line_dp, &result));
  } else {
    FEDLOG_RETURN_IF_ERROR(AppendPrototypes(spec, labeled, work.runtime, &result.weights));
    result.metrics["train_labeled_lines"] = static_cast<double>(labeled.size());
    FEDLOG_RETURN_IF_ERROR(AddValidationMetrics(spec, labeled, validation, work, &result));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

absl::StatusOr<FewShotModel> BuildSiteDetector(const EncoderSpec& spec,
                                               const fl::TensorBundle& weights,
                                               const LineSet& support, const LineSet& validation,
                                               const AdaptOptions& options) {
  FEDLOG_RETURN_IF_ERROR(ValidateEncoderSpec(spec));
  return Adapt(spec, EncoderTensors(spec, weights), support, FallbackPrototypes(spec, weights),
               validation, options);
}

}  // namespace fedlog::model
