// `fedlog eval detect --protocol loso`, k > 0: the encoder's fused few-shot detector
// (model::FusedFewShotDetector in the adapted encoder's space, the encoder's k = 0 score elsewhere)
// and the training-free Jaccard 1-NN baseline on the same support lines (eval_detect.h).
#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/fewshot/fewshot.h"
#include "common/model/few_shot_fused.h"
#include "common/model/hybrid_cut.h"
#include "common/model/hybrid_support.h"
#include "common/model/line_scorer.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

constexpr size_t kReferenceLines = 1500;  // target lines the match quantile is taken over (seeded)

// Unit-norm embeddings ([rows][out_dim]) of dataset lines `rows` under `model`'s weights.
absl::StatusOr<std::vector<float>> Embed(const DetectDataset& d, const model::EncoderSpec& spec,
                                         const model::FewShotModel& model,
                                         const std::vector<size_t>& rows) {
  FEDLOG_ASSIGN_OR_RETURN(model::LineScorer scorer, model::LineScorer::Create(spec, model));
  const size_t dim = static_cast<size_t>(spec.out_dim),
               cols = static_cast<size_t>(d.lines.dense.cols);
  std::vector<float> out(rows.size() * dim);
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t r = rows[i];
    scorer.Embed(d.lines.tokens[r],
                 absl::Span<const float>(d.lines.dense.Row(static_cast<int64_t>(r)), cols),
                 d.lines.sources.empty() ? std::string() : d.lines.sources[r],
                 out.data() + i * dim);
  }
  return out;
}

// A line's hashed tokens, sorted and unique.
std::vector<int64_t> TokenSet(const DetectDataset& d, size_t row) {
  std::vector<int64_t> t(d.lines.tokens[row].begin(), d.lines.tokens[row].end());
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

// A line's hashed tokens as a fewshot::Unit (sorted, unique).
fewshot::Unit TokenUnit(const DetectDataset& d, size_t row) {
  fewshot::Unit u;
  for (int64_t t : d.lines.tokens[row]) u.tokens.push_back(static_cast<uint64_t>(t));
  fewshot::Finish(&u);
  return u;
}

}  // namespace

absl::StatusOr<ModelRun> ScoreLineEncoderFused(const DetectDataset& d, const LineEncoderFit& fit,
                                               const std::vector<size_t>& support,
                                               const std::vector<size_t>& test,
                                               const DetectOptions& o) {
  // The label-free side: the encoder's k = 0 detector (global prototypes; calibrated and
  // thresholded on the training sources' held-out lines), on the support and the test lines.
  std::vector<size_t> both(support);
  both.insert(both.end(), test.begin(), test.end());
  FEDLOG_ASSIGN_OR_RETURN(ModelRun free_run,
                          ScoreLineEncoder(d, fit, {}, both, /*calibrate_on_support=*/false, o));
  FEDLOG_ASSIGN_OR_RETURN(model::FewShotModel adapted, AdaptLineEncoder(d, fit, support, true, o));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<float> z, Embed(d, fit.spec, adapted, both));
  const size_t dim = static_cast<size_t>(fit.spec.out_dim);
  // The match: a quantile of the target's own nearest-neighbour similarities (no label used).
  // One line per Drain template: how near the nearest other template is, not its duplicates.
  std::vector<size_t> ref;
  std::set<int64_t> seen;
  for (size_t i = 0; i < both.size(); ++i) {
    if (d.lines.template_ids.empty() || seen.insert(d.lines.template_ids[both[i]]).second) {
      ref.push_back(i);
    }
  }
  if (ref.size() < 2) ref = {0, std::min<size_t>(1, both.size() - 1)};
  std::mt19937_64 rng(o.seed);  // evaluation sampling only, seeded for reproducibility
  std::shuffle(ref.begin(), ref.end(), rng);
  ref.resize(std::min(ref.size(), kReferenceLines));
  std::vector<float> sample;
  for (size_t i : ref) sample.insert(sample.end(), z.begin() + i * dim, z.begin() + (i + 1) * dim);
  model::FusedFewShotOptions fo;
  FEDLOG_ASSIGN_OR_RETURN(fo.match,
                          model::MatchFromReference(sample, dim, o.encoder.fused_match_quantile));
  std::vector<int> y;
  for (size_t r : support) y.push_back(d.y[r]);
  const std::vector<float> support_z(z.begin(), z.begin() + support.size() * dim);
  const std::vector<double> support_free(free_run.scores.begin(),
                                         free_run.scores.begin() + support.size());
  FEDLOG_ASSIGN_OR_RETURN(
      model::FusedFewShotDetector det,
      model::FusedFewShotDetector::Fit(support_z, dim, support_free, y, fo, free_run.threshold));
  ModelRun run;
  run.model = "encoder-fused";
  for (size_t i = support.size(); i < both.size(); ++i) {
    run.scores.push_back(det.Score(z.data() + i * dim, free_run.scores[i]));
  }
  run.threshold = det.threshold();
  run.validation_f1 = fo.match;  // reported in the log as "val F1": here the cosine match
  return run;
}

namespace {

// The hybrid's inputs on one support / test split: embeddings in the encoder adapted on `support`
// and the token sets.
struct HybridInputs {
  size_t dim = 0;
  std::vector<float> support_z, test_z;
  std::vector<std::vector<int64_t>> support_tokens, test_tokens;
  std::vector<int> y;
};

absl::StatusOr<HybridInputs> MakeHybridInputs(const DetectDataset& d, const LineEncoderFit& fit,
                                              const std::vector<size_t>& support,
                                              const std::vector<size_t>& test,
                                              const DetectOptions& o) {
  HybridInputs in;
  FEDLOG_ASSIGN_OR_RETURN(model::FewShotModel adapted, AdaptLineEncoder(d, fit, support, true, o));
  FEDLOG_ASSIGN_OR_RETURN(in.support_z, Embed(d, fit.spec, adapted, support));
  FEDLOG_ASSIGN_OR_RETURN(in.test_z, Embed(d, fit.spec, adapted, test));
  in.dim = static_cast<size_t>(fit.spec.out_dim);
  for (size_t r : support) {
    in.support_tokens.push_back(TokenSet(d, r));
    in.y.push_back(d.y[r]);
  }
  for (size_t r : test) in.test_tokens.push_back(TokenSet(d, r));
  return in;
}

// The hybrid on `in` with `weight` (< 0: chosen on the support's leave-one-out scores), named
// `name`, cut at the plain 1-NN rule (score > 0). Returns the detector's weight in validation_f1.
absl::StatusOr<ModelRun> ScoreHybrid(const HybridInputs& in, double weight, const std::string& name) {
  model::HybridSupportOptions ho;
  if (weight >= 0) ho.weights = {weight};
  FEDLOG_ASSIGN_OR_RETURN(
      model::HybridSupportDetector det,
      model::HybridSupportDetector::Fit(in.support_z, in.dim, in.support_tokens, in.y, ho));
  ModelRun run;
  run.model = name;
  for (size_t i = 0; i < in.test_tokens.size(); ++i) {
    run.scores.push_back(det.Score(in.test_z.data() + i * in.dim, in.test_tokens[i]));
  }
  run.threshold = 1e-9;              // alert when the nearest anomalous unit is strictly nearer
  run.validation_f1 = det.weight();  // reported in the log as "val F1": here the encoder weight
  return run;
}

}  // namespace

absl::StatusOr<std::vector<ModelRun>> ScoreLineEncoderJaccard(const DetectDataset& d,
                                                              const LineEncoderFit& fit,
                                                              const std::vector<size_t>& support,
                                                              const std::vector<size_t>& test,
                                                              const DetectOptions& o,
                                                              const HybridRows& rows) {
  FEDLOG_ASSIGN_OR_RETURN(HybridInputs in, MakeHybridInputs(d, fit, support, test, o));
  std::vector<ModelRun> runs;
  if (rows.dev_weight >= 0) {
    FEDLOG_ASSIGN_OR_RETURN(ModelRun run, ScoreHybrid(in, rows.dev_weight, "encoder-jaccard-dev"));
    runs.push_back(std::move(run));
  }
  if (!rows.loo && !rows.rate && rows.tally == nullptr) return runs;
  // The support's own choice of w; the three rows below differ only in their cut.
  FEDLOG_ASSIGN_OR_RETURN(ModelRun loo, ScoreHybrid(in, -1, "encoder-jaccard"));
  if (rows.rate) {
    // The count from the rule that decides well (Jaccard 1-NN on the same unlabelled lines), the
    // order from the hybrid.
    const ModelRun jaccard = ScoreJaccard1nn(d, support, test);
    const size_t n = static_cast<size_t>(
        std::count_if(jaccard.scores.begin(), jaccard.scores.end(),
                      [&](double s) { return s >= jaccard.threshold; }));
    ModelRun run = loo;
    run.model = "encoder-jaccard-rate";
    run.threshold = model::CutForAlertCount(run.scores, n);
    runs.push_back(std::move(run));
  }
  if (rows.tally != nullptr) {
    FEDLOG_ASSIGN_OR_RETURN(double offset, rows.tally->BestOffset(loo.validation_f1));
    ModelRun run = loo;
    run.model = "encoder-jaccard-devcut";
    run.threshold = offset + 1e-9;
    runs.push_back(std::move(run));
  }
  if (rows.loo) runs.push_back(std::move(loo));
  return runs;
}

absl::StatusOr<model::OffsetTally> DevHybridTally(const DetectDataset& d, const LineEncoderFit& fit,
                                                  int k, const DetectOptions& o) {
  const model::HybridSupportOptions grid;
  FEDLOG_ASSIGN_OR_RETURN(model::OffsetTally tally,
                          model::OffsetTally::Create(grid.weights, model::DefaultCutOffsets()));
  std::map<std::string, std::vector<size_t>> by_source;
  for (size_t r : fit.validation) by_source[d.lines.sources[r]].push_back(r);
  int n = 0;
  for (const auto& [source, rows] : by_source) {
    std::vector<int> y;
    for (size_t r : rows) y.push_back(d.y[r]);
    const int pos = static_cast<int>(std::count(y.begin(), y.end(), 1));
    if (pos < 2 || pos == static_cast<int>(y.size())) continue;
    const std::vector<size_t> support = PerClassSample(d, rows, std::min(k, pos / 2), o.seed + k);
    std::vector<size_t> test;
    std::set_difference(rows.begin(), rows.end(), support.begin(), support.end(),
                        std::back_inserter(test));
    std::vector<int> test_y;
    for (size_t r : test) test_y.push_back(d.y[r]);
    FEDLOG_ASSIGN_OR_RETURN(HybridInputs in, MakeHybridInputs(d, fit, support, test, o));
    for (size_t i = 0; i < grid.weights.size(); ++i) {
      FEDLOG_ASSIGN_OR_RETURN(ModelRun run, ScoreHybrid(in, grid.weights[i], "dev"));
      FEDLOG_RETURN_IF_ERROR(tally.Add(i, run.scores, test_y));
    }
    ++n;
  }
  if (n == 0) return absl::FailedPreconditionError("no two-class training source to check on");
  return tally;
}

double DevHybridWeight(const model::OffsetTally& tally) {
  const model::HybridSupportOptions grid;
  const auto& offsets = tally.offsets();
  const size_t at_zero =
      static_cast<size_t>(std::find(offsets.begin(), offsets.end(), 0.0) - offsets.begin());
  size_t best = 0;
  for (size_t i = 1; i < tally.weights().size(); ++i) {
    const bool nearer = std::abs(tally.weights()[i] - grid.tie_weight) <
                        std::abs(tally.weights()[best] - grid.tie_weight);
    const double m = tally.Mean(i, at_zero), mb = tally.Mean(best, at_zero);
    if (m > mb || (m == mb && nearer)) best = i;
  }
  return tally.weights()[best];
}

ModelRun ScoreJaccard1nn(const DetectDataset& d, const std::vector<size_t>& support,
                         const std::vector<size_t>& test) {
  std::vector<fewshot::Unit> units;
  std::vector<int> y;
  for (size_t r : support) {
    units.push_back(TokenUnit(d, r));
    y.push_back(d.y[r]);
  }
  ModelRun run;
  run.model = "jaccard-1nn";
  for (size_t r : test) run.scores.push_back(fewshot::Jaccard1nnScore(TokenUnit(d, r), units, y));
  run.threshold =
      1e-9;  // alert when the nearest anomalous line is strictly nearer than the normal one
  run.validation_f1 = -1;
  return run;
}

}  // namespace fedlog::offline
