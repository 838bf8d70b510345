// The fused support detector of `fedlog eval newsite --federated` (eval_newsite_federated.h): per
// encoder, every unit's embedding (a line's own, a session's pooled lines centred on the pool
// units' mean) and the cosine `match`
// taken from the pool units' nearest-neighbour similarities; per label draw,
// model::FusedFewShotDetector on the labelled units with the label-free detector's scores; and the
// hybrid support detector (model::HybridSupportDetector, cut by the Jaccard 1-NN's pool count).
#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "common/base/status_macros.h"
#include "common/model/few_shot_fused.h"
#include "common/model/hybrid_cut.h"
#include "common/model/hybrid_support.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

constexpr size_t kReferenceUnits =
    1500;  // pool units the match quantile is taken over (seeded sample)

// The label-free threshold on fewshot::Unit::free_score: the lowest score the site alerted on among
// the pool units (1 when it alerted on none), as eval newsite's k > 0 protocol uses it.
double PoolFreeThreshold(const ScoredStream& sc, const NewsiteSplit& sp) {
  double t = 1.0;
  for (size_t u : sp.pool) {
    if (sc.units[u].free_alert) t = std::min(t, sc.units[u].free_score);
  }
  return t;
}

}  // namespace

absl::StatusOr<FusedUnits> MakeFusedUnits(const ArmModel& m, const model::EncoderSpec& spec,
                                          const ScoredStream& sc, const NewsiteLines& site,
                                          const NewsiteSplit& sp,
                                          const NewsiteOptions& o) {
  FusedUnits out;
  out.dim = static_cast<size_t>(spec.out_dim);
  out.z.reserve(site.unit_lines.size() * out.dim);
  for (const std::vector<int64_t>& rows : site.unit_lines) {
    const std::vector<float> e = model::PoolEmbeddings(m.embeddings, out.dim, rows);
    out.z.insert(out.z.end(), e.begin(), e.end());
  }
  // Sessions (units of several lines) are centred on the pool's mean: their pooled embeddings are
  // nearly collinear otherwise (HDFS blocks). Lines keep their own embeddings.
  const bool sessions = std::any_of(site.unit_lines.begin(), site.unit_lines.end(),
                                    [](const std::vector<int64_t>& r) { return r.size() > 1; });
  if (sessions) model::CentreEmbeddings(&out.z, out.dim, sp.pool);
  // The hybrid's token sets: fewshot's (sorted as unsigned) re-sorted as TokenJaccard's int64.
  out.tokens.reserve(sc.units.size());
  for (const fewshot::Unit& u : sc.units) {
    std::vector<int64_t> t(u.tokens.begin(), u.tokens.end());
    std::sort(t.begin(), t.end());
    out.tokens.push_back(std::move(t));
  }
  // One pool unit per distinct token set (a line's template and words, a session's union of them):
  // the reference is how near the nearest *other* kind of unit is, not the duplicates of a template.
  std::vector<size_t> ref;
  std::set<std::vector<uint64_t>> seen;
  for (size_t u : sp.pool) {
    if (seen.insert(sc.units[u].tokens).second) ref.push_back(u);
  }
  std::mt19937_64 rng(o.seed);  // evaluation sampling only, seeded for reproducibility
  std::shuffle(ref.begin(), ref.end(), rng);
  ref.resize(std::min(ref.size(), kReferenceUnits));
  if (ref.size() < 2) ref.assign(sp.pool.begin(), sp.pool.begin() + std::min<size_t>(sp.pool.size(), 2));
  std::vector<float> sample;
  for (size_t u : ref)
    sample.insert(sample.end(), out.z.begin() + u * out.dim, out.z.begin() + (u + 1) * out.dim);
  for (double q : o.federated.match_quantiles) {
    FEDLOG_ASSIGN_OR_RETURN(double match, model::MatchFromReference(sample, out.dim, q));
    out.match.push_back(match);
  }
  return out;
}

absl::StatusOr<std::vector<double>> FusedSupportScores(const FusedUnits& units,
                                                       const ScoredStream& sc,
                                                       const NewsiteSplit& sp,
                                                       const std::vector<size_t>& labelled,
                                                       const std::vector<int>& y, double match,
                                                       double* threshold) {
  std::vector<double> out(sc.units.size(), 0.0);
  if (labelled.empty()) {  // no label yet: the label-free detector as it stands
    for (size_t u = 0; u < out.size(); ++u) out[u] = sc.units[u].free_score;
    *threshold = PoolFreeThreshold(sc, sp);
    return out;
  }
  std::vector<float> support;
  std::vector<double> free_scores;
  for (size_t u : labelled) {
    support.insert(support.end(), units.z.begin() + u * units.dim,
                   units.z.begin() + (u + 1) * units.dim);
    free_scores.push_back(sc.units[u].free_score);
  }
  model::FusedFewShotOptions fo;
  fo.match = match;
  FEDLOG_ASSIGN_OR_RETURN(model::FusedFewShotDetector det,
                          model::FusedFewShotDetector::Fit(support, units.dim, free_scores, y, fo,
                                                           PoolFreeThreshold(sc, sp)));
  for (size_t u = 0; u < out.size(); ++u)
    out[u] = det.Score(units.z.data() + u * units.dim, sc.units[u].free_score);
  *threshold = det.threshold();
  return out;
}

absl::StatusOr<std::vector<double>> HybridSupportScores(const FusedUnits& units,
                                                        const NewsiteSplit& sp,
                                                        const std::vector<size_t>& labelled,
                                                        const std::vector<int>& y,
                                                        double* threshold, double* weight) {
  std::vector<float> support;
  std::vector<std::vector<int64_t>> tokens;
  for (size_t u : labelled) {
    support.insert(support.end(), units.z.begin() + u * units.dim,
                   units.z.begin() + (u + 1) * units.dim);
    tokens.push_back(units.tokens[u]);
  }
  FEDLOG_ASSIGN_OR_RETURN(model::HybridSupportDetector det,
                          model::HybridSupportDetector::Fit(support, units.dim, tokens, y, {}));
  model::HybridSupportOptions words_only;
  words_only.weights = {0.0};
  FEDLOG_ASSIGN_OR_RETURN(model::HybridSupportDetector jaccard,
                          model::HybridSupportDetector::Fit(support, units.dim, tokens, y, words_only));
  std::vector<double> out(units.tokens.size(), 0.0);
  for (size_t u = 0; u < out.size(); ++u) out[u] = det.Score(units.z.data() + u * units.dim, units.tokens[u]);
  // The cut: as many alerts among the pool's unlabelled units as the Jaccard 1-NN raises there.
  const std::set<size_t> is_labelled(labelled.begin(), labelled.end());
  std::vector<double> pool;
  size_t jaccard_alerts = 0;
  for (size_t u : sp.pool) {
    if (is_labelled.count(u)) continue;
    pool.push_back(out[u]);
    jaccard_alerts += jaccard.Score(units.z.data() + u * units.dim, units.tokens[u]) > 0;
  }
  *threshold = model::CutForAlertCount(pool, jaccard_alerts, model::CountTies::kNearest);
  *weight = det.weight();
  return out;
}

double LabelFreeCountCut(const NewsiteSplit& sp, const ScoredStream& sc,
                         const std::vector<double>& unit_score) {
  std::vector<double> pool;
  size_t alerts = 0;
  for (size_t u : sp.pool) {
    pool.push_back(unit_score[u]);
    alerts += sc.units[u].free_alert ? 1 : 0;
  }
  return model::CutForAlertCount(pool, alerts, model::CountTies::kNearest);
}

double UndecidedCountCut(const NewsiteSplit& sp, const ScoredStream& sc,
                         const std::vector<double>& fused_score) {
  std::vector<double> pool;
  size_t alerts = 0;
  for (size_t u : sp.pool) {
    if (!(fused_score[u] > -1.0 && fused_score[u] < 2.0)) continue;  // a label decides it
    pool.push_back(fused_score[u]);
    alerts += sc.units[u].free_alert ? 1 : 0;
  }
  if (pool.empty()) return 2.0;  // every pool unit is decided: the matched anomalies alert
  return std::min(2.0, model::CutForAlertCount(pool, alerts, model::CountTies::kNearest));
}

}  // namespace fedlog::offline
