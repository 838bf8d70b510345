// The learned encoder in `fedlog eval detect`. Line protocols (loso, bgl): contrastive pre-training
// on the training lines (labels unused; template alignment), meta-training (prototypical networks
// with first-order MAML, the imbalance curriculum and the hybrid loss) on their labels, then
// few-shot adaptation at the target (k labelled lines per class, or the global prototypes for
// k = 0), Platt calibration and a max-F1 threshold. Session protocols (hdfs, hadoop): the session
// classifier over each block's / application's template-id sequence.
#include <algorithm>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/splits.h"
#include "common/eval/threshold.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/few_shot.h"
#include "common/model/line_input.h"
#include "common/model/meta_trainer.h"
#include "common/model/session_detector.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

model::RuntimeOptions Runtime(const DetectOptions& o, uint64_t seed) {
  model::RuntimeOptions r;
  r.threads = o.encoder.threads;
  r.seed = seed;
  return r;
}

std::vector<int64_t> AsRows(const std::vector<size_t>& rows) {
  return std::vector<int64_t>(rows.begin(), rows.end());
}

// Sources present in the dataset's lines, in first-seen order (one adapter each).
std::vector<std::string> SourcesOf(const model::LineSet& lines) {
  std::vector<std::string> out;
  for (const std::string& s : lines.sources) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

model::ContrastiveOptions ContrastiveOpts(const DetectOptions& o, uint64_t seed) {
  model::ContrastiveOptions c;
  c.steps = o.encoder.contrastive_steps;
  c.batch_size = o.encoder.contrastive_batch;
  c.encoder_lr = o.encoder.encoder_lr;
  c.jaccard_weight = o.encoder.jaccard_weights.empty() ? 0 : o.encoder.jaccard_weights.front();
  c.runtime = Runtime(o, seed);
  return c;
}

model::MetaOptions MetaOpts(const DetectOptions& o, uint64_t seed) {
  model::MetaOptions m;
  m.meta_iterations = o.encoder.meta_iterations;
  m.meta_batch = o.encoder.meta_batch;
  m.inner_steps = o.encoder.inner_steps;
  m.first_order = true;  // second-order MAML costs ~3x per episode for no gain we could measure
  m.meta_lr = o.encoder.meta_lr;
  m.jaccard_weight = o.encoder.jaccard_weights.empty() ? 0 : o.encoder.jaccard_weights.front();
  m.runtime = Runtime(o, seed);
  return m;
}

}  // namespace

bool WantsModel(const DetectOptions& options, const std::string& model) {
  return std::find(options.models.begin(), options.models.end(), model) != options.models.end();
}

std::vector<size_t> PerClassSample(const DetectDataset& d, const std::vector<size_t>& rows,
                                   int per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> out;
  for (int c = 0; c < 2; ++c) {
    std::vector<size_t> idx;
    for (size_t r : rows) {
      if (d.y[r] == c) idx.push_back(r);
    }
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(std::min(idx.size(), static_cast<size_t>(per_class)));
    out.insert(out.end(), idx.begin(), idx.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<LineEncoderFit> FitLineEncoder(const DetectDataset& d,
                                              const std::vector<size_t>& train,
                                              const DetectOptions& o, uint64_t seed) {
  if (d.lines.size() != static_cast<int64_t>(d.y.size()) || d.lines.labels.size() != d.y.size()) {
    return absl::FailedPreconditionError("encoder: the dataset has no labelled per-line input");
  }
  LineEncoderFit fit;
  std::vector<int> train_y;
  for (size_t r : train) train_y.push_back(d.y[r]);
  FEDLOG_ASSIGN_OR_RETURN(eval::TrainTestSplit hv, eval::StratifiedSplit(train_y, 0.2, seed));
  std::vector<size_t> fit_rows;
  for (size_t i : hv.train) fit_rows.push_back(train[i]);
  for (size_t i : hv.test) fit.validation.push_back(train[i]);
  std::sort(fit_rows.begin(), fit_rows.end());
  std::sort(fit.validation.begin(), fit.validation.end());
  fit.spec = model::DefaultEncoderSpec(static_cast<int>(d.lines.dense.cols), SourcesOf(d.lines));
  fit.spec.init_seed = seed;
  const model::LineSet lines = model::SelectLines(d.lines, AsRows(fit_rows));
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle w0, model::InitialEncoderWeights(fit.spec));
  FEDLOG_ASSIGN_OR_RETURN(
      model::ContrastiveResult pre,
      model::PretrainContrastive(fit.spec, w0, lines, ContrastiveOpts(o, seed)));
  FEDLOG_ASSIGN_OR_RETURN(model::MetaResult meta,
                          model::MetaTrain(fit.spec, pre.weights, lines, {}, MetaOpts(o, seed)));
  fit.weights = std::move(meta.weights);
  fit.global_prototypes = std::move(meta.global_prototypes);
  fit.jaccard_weight = o.encoder.jaccard_weights.empty() ? 0 : o.encoder.jaccard_weights.front();
  fit.log = absl::StrFormat(
      " encoder: contrastive %d steps loss %.3f->%.3f %.1fs, meta %d episodes loss %.3f->%.3f "
      "%.1fs;",
      static_cast<int>(pre.steps), pre.initial_loss, pre.final_loss, pre.seconds,
      static_cast<int>(meta.episodes), meta.initial_loss, meta.final_loss, meta.seconds);
  return fit;
}

absl::StatusOr<model::FewShotModel> AdaptLineEncoder(const DetectDataset& d,
                                                     const LineEncoderFit& fit,
                                                     const std::vector<size_t>& support,
                                                     bool calibrate_on_support,
                                                     const DetectOptions& o) {
  model::AdaptOptions a;
  a.inner_steps = support.empty() ? 0 : o.encoder.adapt_steps;
  a.prototypes = o.encoder.prototypes;
  a.runtime = Runtime(o, o.seed);
  const model::LineSet support_lines = model::SelectLines(d.lines, AsRows(support));
  // Calibrating on the support set: with nearest-support prototypes Adapt does it on
  // leave-one-out scores when it gets no validation set; class means can only be fitted in-sample.
  const bool leave_one_out = a.prototypes == model::PrototypeMode::kNearestSupport;
  std::vector<size_t> calibration = fit.validation;
  if (calibrate_on_support) calibration = leave_one_out ? std::vector<size_t>{} : support;
  const model::LineSet validation = model::SelectLines(d.lines, AsRows(calibration));
  return model::Adapt(fit.spec, fit.weights, support_lines, fit.global_prototypes, validation, a);
}

absl::StatusOr<ModelRun> ScoreLineEncoder(const DetectDataset& d, const LineEncoderFit& fit,
                                          const std::vector<size_t>& support,
                                          const std::vector<size_t>& test,
                                          bool calibrate_on_support, const DetectOptions& o) {
  FEDLOG_ASSIGN_OR_RETURN(model::FewShotModel adapted,
                          AdaptLineEncoder(d, fit, support, calibrate_on_support, o));
  model::RuntimeOptions runtime = Runtime(o, o.seed);
  FEDLOG_ASSIGN_OR_RETURN(
      std::vector<float> scores,
      model::ScoreFewShot(fit.spec, adapted, model::SelectLines(d.lines, AsRows(test)), runtime));
  ModelRun run;
  run.model = "encoder";
  run.scores.assign(scores.begin(), scores.end());
  run.threshold = adapted.threshold;
  run.validation_f1 = adapted.validation_f1;
  return run;
}

absl::StatusOr<double> DevFewShotF1Macro(const DetectDataset& d, const LineEncoderFit& fit, int k,
                                         const DetectOptions& o) {
  std::map<std::string, std::vector<size_t>> by_source;
  for (size_t r : fit.validation) by_source[d.lines.sources[r]].push_back(r);
  double sum = 0;
  int n = 0;
  for (const auto& [source, rows] : by_source) {
    std::vector<int> y;
    for (size_t r : rows) y.push_back(d.y[r]);
    const int pos = static_cast<int>(std::count(y.begin(), y.end(), 1));
    if (pos < 2 || pos == static_cast<int>(y.size())) continue;
    const std::vector<size_t> support =
        k > 0 ? PerClassSample(d, rows, std::min(k, pos / 2), o.seed + k) : std::vector<size_t>{};
    std::vector<size_t> test;
    std::set_difference(rows.begin(), rows.end(), support.begin(), support.end(),
                        std::back_inserter(test));
    FEDLOG_ASSIGN_OR_RETURN(ModelRun run, ScoreLineEncoder(d, fit, support, test, k > 0, o));
    std::vector<int> test_y;
    for (size_t r : test) test_y.push_back(d.y[r]);
    FEDLOG_ASSIGN_OR_RETURN(eval::BinaryMetrics m,
                            eval::EvaluateScores(test_y, run.scores, run.threshold));
    sum += m.f1_macro;
    ++n;
  }
  if (n == 0) return absl::FailedPreconditionError("no two-class training source to check on");
  return sum / n;
}

absl::StatusOr<LineEncoderFit> FitLineEncoderChoosingWeight(const DetectDataset& d,
                                                            const std::vector<size_t>& train,
                                                            const DetectOptions& o, uint64_t seed) {
  if (o.encoder.jaccard_weights.size() <= 1) return FitLineEncoder(d, train, o, seed);
  std::vector<int> ks;
  for (int k : o.shots) {
    if (k > 0) ks.push_back(k);
  }
  if (ks.empty()) ks.push_back(0);
  absl::StatusOr<LineEncoderFit> best = absl::FailedPreconditionError("no weight");
  double best_dev = -1;
  std::string choice = " jaccard weight by held-out F1-macro:";
  for (float w : o.encoder.jaccard_weights) {
    DetectOptions one = o;
    one.encoder.jaccard_weights = {w};
    FEDLOG_ASSIGN_OR_RETURN(LineEncoderFit fit, FitLineEncoder(d, train, one, seed));
    double dev = 0;
    for (int k : ks) {
      FEDLOG_ASSIGN_OR_RETURN(double f1, DevFewShotF1Macro(d, fit, k, one));
      dev += f1 / static_cast<double>(ks.size());
    }
    absl::StrAppend(&choice, absl::StrFormat(" w=%g %.4f", w, dev));
    if (!best.ok() || dev > best_dev) {
      best_dev = dev;
      best = std::move(fit);
    }
  }
  absl::StrAppend(&choice, absl::StrFormat(" -> w=%g;", best->jaccard_weight));
  best->log = choice + best->log;
  return best;
}

namespace {

// Template-id sequences of sessions `rows`; ids are numbered in order of first appearance over the
// training sessions (`vocab` grows only while `grow`), anything else maps to the unknown token.
std::vector<std::vector<int64_t>> Sequences(const DetectDataset& d, const std::vector<size_t>& rows,
                                            bool grow, std::map<int64_t, int64_t>* vocab) {
  std::vector<std::vector<int64_t>> out;
  for (size_t r : rows) {
    std::vector<int64_t> seq;
    for (size_t line : d.sessions[r]) {
      const int64_t tid = d.lines.template_ids[line];
      auto it = vocab->find(tid);
      if (it == vocab->end() && grow)
        it = vocab->emplace(tid, static_cast<int64_t>(vocab->size())).first;
      seq.push_back(it == vocab->end() ? -1 : it->second);
    }
    if (seq.empty()) seq.push_back(-1);  // a session without lines: one unknown event
    out.push_back(std::move(seq));
  }
  return out;
}

}  // namespace

absl::StatusOr<ModelRun> RunSessionEncoder(const DetectDataset& d, const TrainSetup& setup,
                                           const DetectOptions& o, std::string* log) {
  if (d.sessions.size() != d.y.size())
    return absl::FailedPreconditionError("encoder: the dataset has no sessions");
  std::vector<int> train_y;
  for (size_t r : setup.train) train_y.push_back(d.y[r]);
  FEDLOG_ASSIGN_OR_RETURN(eval::TrainTestSplit hv, eval::StratifiedSplit(train_y, 0.2, setup.seed));
  std::vector<size_t> fit_rows, val_rows;
  std::vector<int> fit_y, val_y;
  for (size_t i : hv.train) {
    fit_rows.push_back(setup.train[i]);
    fit_y.push_back(train_y[i]);
  }
  for (size_t i : hv.test) {
    val_rows.push_back(setup.train[i]);
    val_y.push_back(train_y[i]);
  }
  std::map<int64_t, int64_t> vocab;
  const auto fit_seq = Sequences(d, fit_rows, true, &vocab);
  const auto val_seq = Sequences(d, val_rows, false, &vocab);
  const auto test_seq = Sequences(d, setup.test, false, &vocab);
  model::SessionSpec spec;
  spec.num_templates = std::max<int>(1, static_cast<int>(vocab.size()));
  spec.init_seed = setup.seed;
  model::SessionTrainOptions t;
  t.epochs = o.encoder.session_epochs;
  t.runtime = Runtime(o, setup.seed);
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle w0, model::InitialSessionWeights(spec));
  FEDLOG_ASSIGN_OR_RETURN(model::SessionTrainResult trained,
                          model::TrainSessionClassifier(spec, w0, fit_seq, fit_y, t));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> val,
                          model::ScoreSessions(spec, trained.weights, val_seq, t.runtime));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> test,
                          model::ScoreSessions(spec, trained.weights, test_seq, t.runtime));
  ModelRun run;
  run.model = "encoder";
  run.scores.assign(test.begin(), test.end());
  FEDLOG_ASSIGN_OR_RETURN(
      eval::ThresholdChoice choice,
      eval::SelectThresholdMaxF1MidGap(val_y, std::vector<double>(val.begin(), val.end())));
  run.threshold = choice.threshold;
  run.validation_f1 = choice.f1;
  absl::StrAppend(log, absl::StrFormat(" session model: %d templates, loss %.3f->%.3f %.1fs;",
                                       spec.num_templates, trained.initial_loss, trained.final_loss,
                                       trained.seconds));
  return run;
}

}  // namespace fedlog::offline
