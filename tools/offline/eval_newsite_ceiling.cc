// `fedlog eval newsite`, the pool's ceiling: what EVERY label of the labelling pool (the units that
// start in the first label_part of the stream) allows on the test units, for any line rule the
// protocol could ship. A supervised model with all of them (gradient-boosted trees and logistic
// regression on a hashed token bag plus the label-free signals, the features the few-shot rules
// see) and the nearest-label rules with all of them as support. Each row is measured at the cut the
// site would use (0.5 for the classifiers, the rules' own decisions), and a note gives each score's
// oracle F1 (the best cut chosen WITH the test labels): when even that is below a target, no choice
// of k labels from this pool reaches it with these features. A second note counts the test
// anomalies whose Drain template has an anomalous unit in the pool (what any label lookup can know).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/classic/logistic_regression.h"
#include "common/classic/xgboost_model.h"
#include "common/eval/threshold.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

// Wider than the k-shot rows' 256: with thousands of labels the trees can use the extra resolution.
constexpr int64_t kCeilingBagDim = 2048;

DenseMatrix CeilingBag(const ScoredStream& sc, const std::vector<size_t>& units) {
  const int64_t signals = static_cast<int64_t>(sc.units.empty() ? 0 : sc.units[0].signals.size());
  DenseMatrix x(static_cast<int64_t>(units.size()), kCeilingBagDim + signals + 2);
  for (size_t r = 0; r < units.size(); ++r) {
    const fewshot::Unit& u = sc.units[units[r]];
    float* row = x.Row(static_cast<int64_t>(r));
    for (uint64_t t : u.tokens) row[t % kCeilingBagDim] = 1.0f;
    for (size_t k = 0; k < u.signals.size(); ++k) {
      row[kCeilingBagDim + static_cast<int64_t>(k)] =
          static_cast<float>(std::log1p(std::max(0.0, u.signals[k])));
    }
    row[kCeilingBagDim + signals] = static_cast<float>(std::clamp(u.free_score, 0.0, 1.0));
    row[kCeilingBagDim + signals + 1] = u.free_alert ? 1.0f : 0.0f;
  }
  return x;
}

struct Scored {
  std::string method;
  std::vector<double> score;
  std::vector<int> alert;
};

absl::Status AddRow(const NewsiteSplit& sp, const Scored& m, double labels, KShotResult* out) {
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, m.score, m.alert));
  row.method = m.method;
  row.strategy = "every pool label";
  row.k = -1;
  row.labels = labels;
  row.runs = 1;
  out->rows.push_back(row);
  FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice oracle, eval::SelectThresholdMaxF1(sp.test_y, m.score));
  out->notes.push_back(absl::StrFormat(
      "ceiling, %s with every pool label: F1 %.3f at its own cut, %.3f at the best cut chosen with "
      "the test labels", m.method, row.f1, oracle.f1));
  return absl::OkStatus();
}

absl::StatusOr<Scored> Classifier(classic::BinaryClassifier* model, const ScoredStream& sc,
                                  const NewsiteSplit& sp, const std::vector<int>& pool_y) {
  Scored m;
  m.method = absl::StrCat(model->name(), " (token bag + signals)");
  FEDLOG_RETURN_IF_ERROR(model->Fit(CeilingBag(sc, sp.pool), pool_y, {}));
  FEDLOG_ASSIGN_OR_RETURN(m.score, model->Score(CeilingBag(sc, sp.test)));
  for (double v : m.score) m.alert.push_back(v >= 0.5 ? 1 : 0);
  return m;
}

// The nearest-label rules with the whole pool as support.
absl::StatusOr<std::vector<Scored>> NearestRules(const NewsiteStream& s, const ScoredStream& sc,
                                                 const NewsiteSplit& sp,
                                                 const std::vector<int>& pool_y,
                                                 const NewsiteOptions& o) {
  std::vector<fewshot::Unit> support;
  std::vector<double> reference;
  double alerted = 0;
  for (size_t u : sp.pool) {
    support.push_back(sc.units[u]);
    reference.push_back(std::clamp(sc.units[u].free_score, 0.0, 1.0));
    alerted += sc.units[u].free_alert ? 1 : 0;
  }
  std::vector<double> sorted = reference;
  std::sort(sorted.begin(), sorted.end());
  const double free_threshold =
      fewshot::OperatingPoint(sorted, alerted / static_cast<double>(sorted.size()));
  FEDLOG_ASSIGN_OR_RETURN(fewshot::FewShotDetector det,
                          fewshot::FewShotDetector::Fit(support, pool_y, KShotFewShotOptions(s, o), free_threshold,
                                                        std::move(reference)));
  Scored few{"fewshot", {}, {}}, jac{"jaccard-1nn", {}, {}};
  for (size_t u : sp.test) {
    const fewshot::Unit& x = sc.units[u];
    few.score.push_back(det.DecisionScore(x));
    few.alert.push_back(det.Alert(x) ? 1 : 0);
    jac.score.push_back(fewshot::Jaccard1nnScore(x, support, pool_y));
    jac.alert.push_back(jac.score.back() > 0 ? 1 : 0);
  }
  return std::vector<Scored>{few, jac};
}

// Test anomalies whose first line's Drain template has an anomalous pool unit.
std::string LookupNote(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& sp) {
  auto template_of = [&](size_t u) {
    const int64_t first = sc.unit_first_line[u];
    return first < 0 ? -1 : sc.template_id[static_cast<size_t>(first)];
  };
  absl::flat_hash_set<int32_t> anomalous_templates, test_templates, known;
  for (size_t u : sp.pool) {
    if (s.y[u] > 0) anomalous_templates.insert(template_of(u));
  }
  int64_t anomalies = 0, covered = 0;
  for (size_t u : sp.test) {
    if (s.y[u] <= 0) continue;
    const int32_t t = template_of(u);
    ++anomalies;
    test_templates.insert(t);
    if (anomalous_templates.contains(t)) {
      ++covered;
      known.insert(t);
    }
  }
  return absl::StrFormat(
      "ceiling, lookup: %lld of the %lld test anomalies (%zu of their %zu templates) have a template "
      "with an anomalous pool unit", static_cast<long long>(covered), static_cast<long long>(anomalies),
      known.size(), test_templates.size());
}

// The few-shot curve of one strategy: (labels used, F1), fewest labels first.
std::vector<std::pair<double, double>> Curve(const KShotResult& r, const std::string& strategy) {
  std::vector<std::pair<double, double>> pts;
  for (const KShotRow& row : r.rows) {
    if (row.method == "fewshot" && row.strategy == strategy) pts.emplace_back(row.labels, row.f1);
  }
  std::sort(pts.begin(), pts.end());
  return pts;
}

// The fewest labels at which `pts` reaches `f1` (within rounding of the reports); -1: never.
double LabelsFor(const std::vector<std::pair<double, double>>& pts, double f1) {
  for (const auto& [labels, f] : pts) {
    if (f >= f1 - 5e-4) return labels;
  }
  return -1;
}

}  // namespace

std::string HalfLabelsNote(const KShotResult& r) {
  const auto random = Curve(r, "random"), active = Curve(r, "active");
  if (random.empty() || active.empty()) return "";
  double best_random = 0, best_active = 0;
  for (const auto& p : random) best_random = std::max(best_random, p.second);
  for (const auto& p : active) best_active = std::max(best_active, p.second);
  const double both = std::min(best_random, best_active);
  const double need_random = LabelsFor(random, both), need_active = LabelsFor(active, both);
  std::string verdict = need_active <= 0.5 * need_random ? "at most half: met" : "more than half: not met";
  if (best_random < 0.9 || best_active < 0.9) verdict += "; F1 0.9 is reached by neither or one only";
  return absl::StrFormat(
      "half labels (few-shot): the highest F1 both strategies reach is %.3f (random's best %.3f, "
      "active's %.3f); random needs %.0f labels, active %.0f (%s)",
      both, best_random, best_active, need_random, need_active, verdict);
}

absl::Status AddPoolCeilingRows(const NewsiteStream& s, const ScoredStream& sc,
                                const NewsiteOptions& o, KShotResult* out) {
  const NewsiteSplit sp = KShotSplit(s, sc, o);
  std::vector<int> pool_y;
  for (size_t u : sp.pool) pool_y.push_back(s.y[u] > 0 ? 1 : 0);
  const double labels = static_cast<double>(sp.pool.size());
  if (std::count(pool_y.begin(), pool_y.end(), 1) == 0 || sp.test.empty()) {
    out->notes.push_back("ceiling: the pool holds no anomalous unit (no ceiling rows)");
    return absl::OkStatus();
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<Scored> rules, NearestRules(s, sc, sp, pool_y, o));
  for (const Scored& m : rules) FEDLOG_RETURN_IF_ERROR(AddRow(sp, m, labels, out));
  classic::XgboostOptions xo;
  xo.rounds = 200;
  xo.max_depth = 6;
  xo.subsample = 1.0;
  xo.nthread = 1;
  classic::XgboostModel xgb(xo);
  FEDLOG_ASSIGN_OR_RETURN(Scored x, Classifier(&xgb, sc, sp, pool_y));
  FEDLOG_RETURN_IF_ERROR(AddRow(sp, x, labels, out));
  classic::LogisticRegression lr;
  FEDLOG_ASSIGN_OR_RETURN(Scored l, Classifier(&lr, sc, sp, pool_y));
  FEDLOG_RETURN_IF_ERROR(AddRow(sp, l, labels, out));
  out->notes.push_back(LookupNote(s, sc, sp));
  return absl::OkStatus();
}

}  // namespace fedlog::offline
