// Training side of `fedlog eval detect`: everything fitted on training rows only - feature
// selection (mutual information + XGBoost total gain), standardisation, oversampling (ChooseSampler
// / Resample) and class weights - then both classifiers, a decision threshold tuned on validation
// rows, and the test scores.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/classic/logistic_regression.h"
#include "common/classic/xgboost_model.h"
#include "common/eval/splits.h"
#include "common/eval/threshold.h"
#include "common/features/feature_selection.h"
#include "common/features/scaler.h"
#include "common/sampling/sampler_choice.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

constexpr size_t kMinorityCap = 2000;  // minority rows the oversampler interpolates between
constexpr size_t kMajorityCap = 4000;  // majority rows it sees when judging danger / hardness
constexpr int64_t kSyntheticCap = 20000;
constexpr size_t kCrossFitBelow =
    1000;  // fewer training rows: 5-fold out-of-fold validation scores

DenseMatrix Rows(const DenseMatrix& x, absl::Span<const size_t> rows) {
  DenseMatrix out(static_cast<int64_t>(rows.size()), x.cols);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy(x.Row(static_cast<int64_t>(rows[i])), x.Row(static_cast<int64_t>(rows[i])) + x.cols,
              out.Row(static_cast<int64_t>(i)));
  }
  return out;
}

std::vector<size_t> SeededSample(std::vector<size_t> v, size_t n, std::mt19937_64& rng) {
  for (size_t i = 0; i < std::min(n, v.size()); ++i) {
    std::uniform_int_distribution<size_t> pick(i, v.size() - 1);
    std::swap(v[i], v[pick(rng)]);
  }
  v.resize(std::min(n, v.size()));
  return v;
}

classic::XgboostOptions XgbOptions(const DetectOptions& o, uint64_t seed, int rounds) {
  classic::XgboostOptions x;
  x.rounds = rounds;
  x.nthread = o.threads;
  x.seed = seed;
  return x;
}

absl::StatusOr<std::vector<int>> SelectFeatures(const DenseMatrix& x, const std::vector<int>& y,
                                                const DetectOptions& o, uint64_t seed) {
  classic::XgboostModel importance(XgbOptions(o, seed, 50));
  FEDLOG_RETURN_IF_ERROR(importance.Fit(x, y, {}));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> gain, importance.GainImportance());
  features::SelectionOptions so;
  so.k = o.select_k;
  FEDLOG_ASSIGN_OR_RETURN(features::FeatureRanking ranking, features::RankFeatures(x, y, gain, so));
  return ranking.selected;
}

// Appends synthetic minority rows (weight 1) chosen by ChooseSampler from the imbalance ratio. The
// neighbour search runs on a seeded subsample (caps above) so that large training sets stay fast.
absl::Status Oversample(DenseMatrix* x, std::vector<int>* y, std::vector<float>* w, uint64_t seed,
                        std::string* log) {
  FEDLOG_ASSIGN_OR_RETURN(double ratio, sampling::ImbalanceRatio(*y));
  const sampling::SamplerKind kind = sampling::ChooseSampler(ratio);
  if (kind == sampling::SamplerKind::kNone) return absl::OkStatus();
  const int n1 = static_cast<int>(std::count(y->begin(), y->end(), 1));
  const int minority = n1 * 2 <= static_cast<int>(y->size()) ? 1 : 0;
  std::vector<size_t> min_rows, maj_rows;
  for (size_t i = 0; i < y->size(); ++i) ((*y)[i] == minority ? min_rows : maj_rows).push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<size_t> sub = SeededSample(min_rows, kMinorityCap, rng);
  for (size_t r : SeededSample(maj_rows, kMajorityCap, rng)) sub.push_back(r);
  FEDLOG_ASSIGN_OR_RETURN(sampling::FeatureMatrix fm,
                          sampling::FeatureMatrix::FromDense(Rows(*x, sub)));
  std::vector<int> sub_y;
  for (size_t r : sub) sub_y.push_back((*y)[r]);
  sampling::OversampleOptions so;
  so.seed = seed;
  so.num_synthetic =
      std::min<int64_t>(static_cast<int64_t>(maj_rows.size() - min_rows.size()), kSyntheticCap);
  absl::StatusOr<sampling::OversampleResult> res = sampling::Resample(kind, fm, sub_y, so);
  if (!res.ok()) {  // e.g. a single minority row: nothing to interpolate; class weights still apply
    absl::StrAppend(log, " oversampling skipped (", res.status().message(), ");");
    return absl::OkStatus();
  }
  const size_t added = res->features.rows() - res->num_original;
  for (size_t r = res->num_original; r < res->features.rows(); ++r) {
    x->data.insert(x->data.end(), res->features.Row(r).begin(), res->features.Row(r).end());
    ++x->rows;
    y->push_back(minority);
    w->push_back(1.0f);
  }
  absl::StrAppend(log, absl::StrFormat(" ratio %.1f -> %s +%d rows;", ratio,
                                       sampling::SamplerKindName(kind), static_cast<int>(added)));
  return absl::OkStatus();
}

// Fits selection, scaler, oversampling and both models on `fit`; returns scores[model][set] for
// each row set.
absl::StatusOr<std::vector<std::vector<std::vector<double>>>> FitScore(
    const DetectDataset& d, const std::vector<size_t>& fit, const std::vector<float>& fit_w,
    const std::vector<const std::vector<size_t>*>& sets, const DetectOptions& o, uint64_t seed,
    std::string* log) {
  std::vector<int> y;
  for (size_t r : fit) y.push_back(d.y[r]);
  const DenseMatrix all = Rows(d.x, fit);
  FEDLOG_ASSIGN_OR_RETURN(std::vector<int> cols, SelectFeatures(all, y, o, seed));
  DenseMatrix x = features::SelectColumns(all, cols);
  FEDLOG_ASSIGN_OR_RETURN(features::StandardScaler scaler, features::StandardScaler::Fit(x));
  FEDLOG_RETURN_IF_ERROR(scaler.Transform(&x));
  std::vector<float> w = fit_w.empty() ? std::vector<float>(fit.size(), 1.0f) : fit_w;
  FEDLOG_RETURN_IF_ERROR(Oversample(&x, &y, &w, seed, log));
  const std::map<int, double> cw = sampling::InverseFrequencyWeights(y);
  for (size_t i = 0; i < y.size(); ++i) w[i] *= static_cast<float>(cw.at(y[i]));

  std::vector<std::unique_ptr<classic::BinaryClassifier>> models;
  models.push_back(std::make_unique<classic::XgboostModel>(XgbOptions(o, seed, o.xgb_rounds)));
  models.push_back(std::make_unique<classic::LogisticRegression>());
  std::vector<DenseMatrix> inputs;
  for (const std::vector<size_t>* s : sets) {
    inputs.push_back(features::SelectColumns(Rows(d.x, *s), cols));
    FEDLOG_RETURN_IF_ERROR(scaler.Transform(&inputs.back()));
  }
  std::vector<std::vector<std::vector<double>>> out;
  for (const auto& m : models) {
    FEDLOG_RETURN_IF_ERROR(Annotate(m->Fit(x, y, w), m->name()));
    out.emplace_back();
    for (const DenseMatrix& in : inputs) {
      FEDLOG_ASSIGN_OR_RETURN(std::vector<double> s, m->Score(in));
      out.back().push_back(std::move(s));
    }
  }
  return out;
}

std::vector<float> WeightsOf(const TrainSetup& s, const std::vector<size_t>& positions) {
  std::vector<float> w;
  if (s.train_weight.empty()) return w;
  for (size_t p : positions) w.push_back(s.train_weight[p]);
  return w;
}

// Validation labels and per-model validation scores, plus per-model test scores.
struct Scored {
  std::vector<int> val_y;
  std::vector<std::vector<double>> val_scores = std::vector<std::vector<double>>(2);
  std::vector<std::vector<double>> test_scores = std::vector<std::vector<double>>(2);
};

// Positions into setup.train: `splittable` may go to validation; `pinned` (up-weighted labelled
// target lines) always stay in the fitting part.
struct TrainParts {
  std::vector<size_t> splittable, pinned;
  std::vector<int> split_y;
};

// Models fitted on 80% of the splittable rows (+ pinned), threshold data = the other 20%.
absl::Status HoldOut(const DetectDataset& data, const TrainSetup& setup, const TrainParts& parts,
                     const DetectOptions& options, Scored* out, std::string* log) {
  FEDLOG_ASSIGN_OR_RETURN(eval::TrainTestSplit hv,
                          eval::StratifiedSplit(parts.split_y, 0.2, setup.seed));
  std::vector<size_t> fit_pos, fit, val;
  for (size_t i : hv.train) fit_pos.push_back(parts.splittable[i]);
  fit_pos.insert(fit_pos.end(), parts.pinned.begin(), parts.pinned.end());
  for (size_t p : fit_pos) fit.push_back(setup.train[p]);
  for (size_t i : hv.test) val.push_back(setup.train[parts.splittable[i]]);
  for (size_t r : val) out->val_y.push_back(data.y[r]);
  FEDLOG_ASSIGN_OR_RETURN(auto scores, FitScore(data, fit, WeightsOf(setup, fit_pos),
                                                {&val, &setup.test}, options, setup.seed, log));
  for (int m = 0; m < 2; ++m) {
    out->val_scores[m] = scores[m][0];
    out->test_scores[m] = scores[m][1];
  }
  return absl::OkStatus();
}

// Small training sets: out-of-fold scores of 5 stratified folds for the threshold, then a final fit
// on all.
absl::Status CrossFit(const DetectDataset& data, const TrainSetup& setup, const TrainParts& parts,
                      const DetectOptions& options, Scored* out, std::string* log) {
  std::vector<size_t> fold_of(parts.splittable.size());
  int seen[2] = {0, 0};
  for (size_t i = 0; i < fold_of.size(); ++i)
    fold_of[i] = static_cast<size_t>(seen[parts.split_y[i]]++ % 5);
  for (size_t f = 0; f < 5; ++f) {
    std::vector<size_t> fit_pos(parts.pinned), fit, val;
    for (size_t i = 0; i < fold_of.size(); ++i) {
      if (fold_of[i] == f) {
        val.push_back(setup.train[parts.splittable[i]]);
      } else {
        fit_pos.push_back(parts.splittable[i]);
      }
    }
    if (val.empty()) continue;
    for (size_t p : fit_pos) fit.push_back(setup.train[p]);
    FEDLOG_ASSIGN_OR_RETURN(auto scores, FitScore(data, fit, WeightsOf(setup, fit_pos), {&val},
                                                  options, setup.seed + f, log));
    for (size_t r : val) out->val_y.push_back(data.y[r]);
    for (int m = 0; m < 2; ++m) {
      out->val_scores[m].insert(out->val_scores[m].end(), scores[m][0].begin(), scores[m][0].end());
    }
  }
  std::vector<size_t> all_pos(setup.train.size());
  for (size_t p = 0; p < all_pos.size(); ++p) all_pos[p] = p;
  FEDLOG_ASSIGN_OR_RETURN(auto scores, FitScore(data, setup.train, WeightsOf(setup, all_pos),
                                                {&setup.test}, options, setup.seed, log));
  for (int m = 0; m < 2; ++m) out->test_scores[m] = scores[m][0];
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ModelRun>> TrainAndScore(const DetectDataset& data,
                                                    const TrainSetup& setup,
                                                    const DetectOptions& options,
                                                    std::string* log) {
  if (!WantsModel(options, "xgboost") && !WantsModel(options, "logreg"))
    return std::vector<ModelRun>();
  TrainParts parts;
  for (size_t p = 0; p < setup.train.size(); ++p) {
    (setup.train_weight.empty() || setup.train_weight[p] == 1.0f ? parts.splittable : parts.pinned)
        .push_back(p);
  }
  for (size_t p : parts.splittable) parts.split_y.push_back(data.y[setup.train[p]]);
  Scored scored;
  FEDLOG_RETURN_IF_ERROR(parts.splittable.size() >= kCrossFitBelow
                             ? HoldOut(data, setup, parts, options, &scored, log)
                             : CrossFit(data, setup, parts, options, &scored, log));
  std::vector<ModelRun> runs(2);
  const char* names[2] = {"xgboost", "logreg"};  // the order FitScore trains them in
  for (int m = 0; m < 2; ++m) {
    runs[m].model = names[m];
    runs[m].scores = std::move(scored.test_scores[m]);
    FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice t,
                            eval::SelectThresholdMaxF1(scored.val_y, scored.val_scores[m]));
    runs[m].threshold = t.threshold;
    runs[m].validation_f1 = t.f1;
  }
  runs.erase(std::remove_if(runs.begin(), runs.end(),
                            [&](const ModelRun& r) { return !WantsModel(options, r.model); }),
             runs.end());
  return runs;
}

}  // namespace fedlog::offline
