// `fedlog eval newsite`, k > 0: the new site labels k units per class from the first part of its
// stream (at random, several seeds), or 2k units chosen by active selection (common/active, a few
// at a time, each round re-ranked by the detector trained on the labels so far), and every method is
// measured on the units after that part: the few-shot detector (common/fewshot), Jaccard 1-NN and
// XGBoost on the same labels, and the label-free rows (novelty at the site's threshold, the
// severity-word rule, online template rarity) on the same units.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/active/selector.h"
#include "common/base/status_macros.h"
#include "common/classic/xgboost_model.h"
#include "common/eval/metrics.h"
#include "common/novelty/tail_histogram.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

constexpr int kBagDim = 256;

// The units a method is measured on, and the pool labels come from.
using Split = NewsiteSplit;

// Which side of the split line `line` is on: 0 the pool, 1 the measured part, -1 neither. The first
// `part` of the stream's lines is the pool (with `tune`, the pool alone: labels from its first half,
// measured on its second); with `blocks` > 0, the even ones of 2 x blocks equal blocks
// (NewsiteOptions::pool_blocks); with `tune` as well, the pool's blocks alone: labels from blocks 0,
// 4, 8, ..., measured on blocks 2, 6, 10, ... (NewsiteOptions::pool_tune). `fold` 1 (with `tune`,
// NewsiteOptions::pool_tune_fold) swaps the two halves of the pool: labels from its second half
// (blocks 2, 6, 10, ...), measured on its first (blocks 0, 4, 8, ...).
int SideOf(int64_t line, int64_t lines, int64_t cut, int blocks, bool tune, int fold) {
  const int label = tune && fold == 1 ? 1 : 0;  // the side of the pool's first half
  if (blocks <= 0 && tune) return line < cut / 2 ? label : line < cut ? 1 - label : -1;
  if (blocks <= 0) return line < cut ? 0 : 1;
  const int64_t b = line * 2 * blocks / std::max<int64_t>(lines, 1);
  if (!tune) return b % 2 == 0 ? 0 : 1;
  return b % 4 == 0 ? label : b % 4 == 2 ? 1 - label : -1;
}

// Units go to the side of their first line (a unit's sessions stay together).
Split MakeSplit(const NewsiteStream& s, const ScoredStream& sc, double part, int blocks = 0,
                bool tune = false, int fold = 0) {
  Split out;
  const int64_t lines = static_cast<int64_t>(s.lines.size());
  const int64_t cut = static_cast<int64_t>(part * static_cast<double>(lines));
  for (size_t u = 0; u < s.y.size(); ++u) {
    const int64_t first = sc.unit_first_line[u];
    if (first < 0) continue;
    const int side = SideOf(first, lines, cut, blocks, tune, fold);
    if (side == 0) {
      out.pool.push_back(u);
    } else if (side == 1) {
      out.test.push_back(u);
      out.test_y.push_back(s.y[u]);
    }
  }
  out.test_lines = lines - cut;
  if (blocks > 0 || tune) {
    out.test_lines = 0;
    for (int64_t i = 0; i < lines; ++i) {
      out.test_lines += SideOf(i, lines, cut, blocks, tune, fold) == 1 ? 1 : 0;
    }
  }
  return out;
}

absl::StatusOr<KShotRow> Measure(const Split& sp, const std::vector<double>& score,
                                 const std::vector<int>& alert) {
  KShotRow row;
  FEDLOG_ASSIGN_OR_RETURN(row.auroc, eval::Auroc(sp.test_y, score));
  FEDLOG_ASSIGN_OR_RETURN(row.pr_auc, eval::AveragePrecision(sp.test_y, score));
  FEDLOG_ASSIGN_OR_RETURN(eval::ConfusionMatrix cm, eval::ComputeConfusion(sp.test_y, alert));
  row.precision = eval::Precision(cm);
  row.recall = eval::Recall(cm);
  row.f1 = eval::F1(cm);
  row.alerts_per_10k = 1e4 * static_cast<double>(cm.tp + cm.fp) /
                       static_cast<double>(std::max<int64_t>(sp.test_lines, 1));
  row.normal_alert_rate = static_cast<double>(cm.fp) / static_cast<double>(std::max<int64_t>(cm.fp + cm.tn, 1));
  return row;
}

// Label-free rows on the test units: a unit alerts when any of its lines did.
absl::Status LabelFreeRows(const NewsiteStream& s, const ScoredStream& sc, const Split& sp,
                           const NewsiteOptions& o, KShotResult* out) {
  const size_t nu = s.y.size();
  std::vector<double> fused(nu, 0), rarity(nu, 0), rule(nu, 0);
  std::vector<int> fused_alert(nu, 0), rarity_alert(nu, 0);
  novelty::AlertBudget budget(o.detector.expected_alert_rate, o.detector.warmup_lines);
  const std::vector<double>& rar = sc.signal[novelty::kTemplate];
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const bool rarity_alerts = budget.Decide(rar[i]);
    for (int32_t u32 : s.units[i]) {
      const size_t u = static_cast<size_t>(u32);
      fused[u] = std::max(fused[u], sc.fused[i]);
      rarity[u] = std::max(rarity[u], rar[i]);
      rule[u] = std::max(rule[u], static_cast<double>(sc.severity_rule[i]));
      fused_alert[u] |= sc.alert[i];
      rarity_alert[u] |= rarity_alerts ? 1 : 0;
    }
  }
  auto add = [&](const std::string& m, const std::vector<double>& v,
                 const std::vector<int>& a) -> absl::Status {
    std::vector<double> ts;
    std::vector<int> ta;
    for (size_t u : sp.test) {
      ts.push_back(v[u]);
      ta.push_back(a[u]);
    }
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, Measure(sp, ts, ta));
    row.method = m;
    row.strategy = "-";
    row.runs = 1;
    out->rows.push_back(row);
    return absl::OkStatus();
  };
  FEDLOG_RETURN_IF_ERROR(add("novelty (k=0, site threshold)", fused, fused_alert));
  std::vector<int> rule_alert(rule.begin(), rule.end());
  FEDLOG_RETURN_IF_ERROR(add("severity-word rule", rule, rule_alert));
  return add("online template rarity", rarity, rarity_alert);
}

DenseMatrix Bag(const ScoredStream& sc, const std::vector<size_t>& units) {
  const int64_t width = kBagDim + static_cast<int64_t>(sc.units.empty() ? 0 : sc.units[0].signals.size());
  DenseMatrix x(static_cast<int64_t>(units.size()), width);
  for (size_t r = 0; r < units.size(); ++r) {
    const fewshot::Unit& u = sc.units[units[r]];
    float* row = x.Row(static_cast<int64_t>(r));
    for (uint64_t t : u.tokens) row[t % kBagDim] = 1.0f;
    for (size_t k = 0; k < u.signals.size(); ++k) {
      row[kBagDim + static_cast<int64_t>(k)] = static_cast<float>(std::log1p(std::max(0.0, u.signals[k])));
    }
  }
  return x;
}

// The label-free operating point on Unit::free_score: the pool's score at its own label-free alert
// rate's quantile (fewshot::OperatingPoint), where the few-shot threshold starts. It depends on how
// many pool units the site alerted on, not on which: a quantile of the stream's own scores.
double FreeThreshold(const ScoredStream& sc, const Split& sp) {
  return fewshot::ReferenceOf(sc.units, sp.pool).operating_point;
}

// The label-free scores of the pool's units: the stream the few-shot threshold moves in quantiles of.
std::vector<double> PoolScores(const ScoredStream& sc, const Split& sp) {
  std::vector<double> v;
  v.reserve(sp.pool.size());
  for (size_t u : sp.pool) v.push_back(sc.units[u].free_score);
  return v;
}

// The three k > 0 methods trained on `labelled` (unit indices, their labels); rows appended.
absl::Status KShotMethods(const ScoredStream& sc, const Split& sp, const std::vector<size_t>& labelled,
                          const std::vector<int>& y, const fewshot::FewShotOptions& fo,
                          std::vector<KShotRow>* rows) {
  const double free_threshold = FreeThreshold(sc, sp);
  std::vector<fewshot::Unit> support;
  for (size_t u : labelled) support.push_back(sc.units[u]);
  std::vector<double> jac(sp.test.size()), few(sp.test.size());
  std::vector<int> jac_alert(sp.test.size()), few_alert(sp.test.size());
  FEDLOG_ASSIGN_OR_RETURN(
      fewshot::FewShotDetector det,
      fewshot::FewShotDetector::Fit(support, y, fo, free_threshold, PoolScores(sc, sp)));
  for (size_t t = 0; t < sp.test.size(); ++t) {
    const fewshot::Unit& u = sc.units[sp.test[t]];
    jac[t] = fewshot::Jaccard1nnScore(u, support, y);
    jac_alert[t] = jac[t] > 0 ? 1 : 0;
    few[t] = det.Score(u);
    few_alert[t] = det.Alert(u) ? 1 : 0;
  }
  FEDLOG_ASSIGN_OR_RETURN(KShotRow f, Measure(sp, few, few_alert));
  f.method = "fewshot";
  FEDLOG_ASSIGN_OR_RETURN(KShotRow j, Measure(sp, jac, jac_alert));
  j.method = "jaccard-1nn";
  classic::XgboostOptions xo;
  xo.rounds = 50;
  xo.subsample = 1.0;
  // XGBoost needs both classes; with one (active selection can find no anomaly) it scores 0.
  classic::XgboostModel xgb(xo);
  std::vector<double> xs(sp.test.size(), 0.0);
  if (xgb.Fit(Bag(sc, labelled), y, {}).ok()) {
    FEDLOG_ASSIGN_OR_RETURN(xs, xgb.Score(Bag(sc, sp.test)));
  }
  std::vector<int> xa(xs.size());
  for (size_t t = 0; t < xs.size(); ++t) xa[t] = xs[t] >= 0.5 ? 1 : 0;
  FEDLOG_ASSIGN_OR_RETURN(KShotRow x, Measure(sp, xs, xa));
  x.method = "xgboost (token bag + signals)";
  for (KShotRow* r : {&f, &j, &x}) {
    r->labels = static_cast<double>(labelled.size());
    rows->push_back(*r);
  }
  return absl::OkStatus();
}

// k per class at random from the pool, nested across k (one shuffle per seed).
std::vector<std::vector<size_t>> RandomOrder(const NewsiteStream& s, const Split& sp, uint64_t seed) {
  std::vector<std::vector<size_t>> by_class(2);
  for (size_t u : sp.pool) by_class[s.y[u] > 0 ? 1 : 0].push_back(u);
  std::mt19937_64 rng(seed);  // evaluation sampling only, seeded for reproducibility
  for (auto& c : by_class) std::shuffle(c.begin(), c.end(), rng);
  return by_class;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Per method (the same order in every run), the median of each figure over the runs.
void AppendMedians(const std::vector<std::vector<KShotRow>>& runs, int k, const std::string& strategy,
                   std::vector<KShotRow>* rows) {
  if (runs.empty()) return;
  for (size_t m = 0; m < runs[0].size(); ++m) {
    KShotRow row = runs[0][m];
    row.k = k;
    row.strategy = strategy;
    row.runs = static_cast<int>(runs.size());
    auto med = [&](double KShotRow::*field) {
      std::vector<double> v;
      for (const auto& r : runs) v.push_back(r[m].*field);
      row.*field = Median(v);
    };
    for (double KShotRow::*f : {&KShotRow::labels, &KShotRow::auroc, &KShotRow::pr_auc,
                                &KShotRow::precision, &KShotRow::recall, &KShotRow::f1,
                                &KShotRow::alerts_per_10k, &KShotRow::normal_alert_rate}) {
      med(f);
    }
    rows->push_back(row);
  }
}

int32_t GroupOf(const fewshot::Unit& u) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t t : u.tokens) h = (h ^ t) * 1099511628211ull;
  return static_cast<int32_t>(h & 0x7fffffff);
}

// --dump: one active pick as the selector ranked it, and the decisions right after its round.
struct ActivePickTrace {
  size_t unit = 0;
  int label = 0;
  int64_t first_line = -1;
  active::Pick pick;
  int round = 0;
  int64_t pool_right = 0;  // pool units the detector decides right after the round's labels
  int64_t test_right = 0;  // the same on the measured units
};

// How many of `units` the decisions `alert` (indexed by unit) get right.
int64_t RightDecisions(const NewsiteStream& s, const std::vector<size_t>& units, const std::vector<int>& alert) {
  int64_t right = 0;
  for (size_t u : units) right += (alert[u] == 1) == (s.y[u] > 0) ? 1 : 0;
  return right;
}

// The round's picks (`picks`, pool indices) as trace rows, with the decisions `det` (fitted on every
// label so far) gets right in the pool (`pool_alert`) and on the measured units.
void TraceRound(const NewsiteStream& s, const ScoredStream& sc, const Split& sp,
                const std::vector<active::Pick>& picks, const fewshot::FewShotDetector& det,
                const std::vector<int>& pool_alert, std::vector<ActivePickTrace>* trace) {
  std::vector<int> test_alert(s.y.size(), 0);
  for (size_t u : sp.test) test_alert[u] = det.Alert(sc.units[u]) ? 1 : 0;
  const int round = trace->empty() ? 1 : trace->back().round + 1;
  for (const active::Pick& p : picks) {
    ActivePickTrace t;
    t.unit = sp.pool[p.line];
    t.label = s.y[t.unit] > 0 ? 1 : 0;
    t.first_line = sc.unit_first_line[t.unit];
    t.pick = p;
    t.round = round;
    t.pool_right = RightDecisions(s, sp.pool, pool_alert);
    t.test_right = RightDecisions(s, sp.test, test_alert);
    trace->push_back(t);
  }
}

// Active selection (common/active's line selector, the options `fedlog label` uses but those the
// --active-* flags set): rounds of two picks, each ranked by the few-shot
// detector built on the labels so far (scores of units near a label move away from the threshold, so
// the next picks go to groups nothing covers yet), the site's label-free verdict as the second
// opinion, and each unit's decision in force; the ground truth answers as the operator would.
// Returns the labelled units in the order picked; with `trace`, each pick as ranked (--dump).
std::vector<size_t> ActiveLabels(const NewsiteStream& s, const ScoredStream& sc, const Split& sp,
                                 const NewsiteOptions& o, size_t budget,
                                 std::vector<ActivePickTrace>* trace = nullptr) {
  std::vector<size_t> labelled;
  std::vector<int> label_of(s.y.size(), -1), alert(s.y.size(), 0);
  std::vector<double> score(s.y.size(), 0);
  // Selection works on the few-shot detector's scale from the start: before any label it is the
  // label-free score, the threshold the label-free operating point, the decisions the site's own.
  double threshold = FreeThreshold(sc, sp);
  for (size_t u : sp.pool) {
    score[u] = sc.units[u].free_score;
    alert[u] = sc.units[u].free_alert ? 1 : 0;
  }
  active::SelectorOptions so;
  so.seed = o.seed;
  so.fallback_alert_rate = o.detector.expected_alert_rate;
  so.coverage_weight = o.active_coverage_weight;
  so.margin_probability_share = o.active_margin_share;
  so.opinion_ramp = o.active_opinion_ramp;
  // The group's mean uncertainty and its size weight were chosen on lines (docs/EVALUATION.md "Session 19");
  // session units keep sessions 13-18's ranking (0 and 0), as they keep keep_alert_match 0.
  so.mean_uncertainty_share = s.unit == "line" ? o.active_mean_uncertainty : 0.0;
  so.size_weight = s.unit == "line" ? o.active_size_weight : 0.0;
  // The neighbourhood count follows the few-shot rule of lines, where it was tuned (docs/EVALUATION.md
  // "Session 16"); session units keep their group's own count, as they keep keep_alert_match 0.
  so.neighbour_match = s.unit == "line" ? o.active_neighbour_match : 0.0;
  so.neighbour_keep_match = KShotFewShotOptions(s, o).keep_alert_match;
  so.diversity_match = o.active_diversity;
  const bool with_tokens = so.neighbour_match > 0 || so.diversity_match > 0;
  while (labelled.size() < budget) {
    active::SelectionInput in;
    in.threshold = threshold;
    for (size_t u : sp.pool) {
      active::LineInfo li;
      li.template_id = GroupOf(sc.units[u]);
      li.score = score[u];
      li.label = label_of[u];
      li.model_probability = sc.units[u].free_alert ? 1.f : 0.f;
      li.alert = alert[u];
      if (with_tokens) li.tokens = sc.units[u].tokens;
      in.lines.push_back(std::move(li));
    }
    absl::StatusOr<std::vector<active::Pick>> picks =
        active::SelectLines(in, so, std::min<size_t>(2, budget - labelled.size()));
    if (!picks.ok() || picks->empty()) break;
    for (const active::Pick& p : *picks) {
      const size_t u = sp.pool[p.line];
      label_of[u] = s.y[u] > 0 ? 1 : 0;
      labelled.push_back(u);
    }
    std::vector<fewshot::Unit> support;
    std::vector<int> y;
    for (size_t u : labelled) {
      support.push_back(sc.units[u]);
      y.push_back(label_of[u]);
    }
    absl::StatusOr<fewshot::FewShotDetector> det =
        fewshot::FewShotDetector::Fit(support, y, KShotFewShotOptions(s, o), FreeThreshold(sc, sp),
                                      PoolScores(sc, sp));
    if (!det.ok()) break;
    for (size_t u : sp.pool) {
      score[u] = det->Score(sc.units[u]);
      alert[u] = det->Alert(sc.units[u]) ? 1 : 0;
    }
    threshold = det->threshold();
    if (trace) TraceRound(s, sc, sp, *picks, *det, alert, trace);
  }
  return labelled;
}

}  // namespace

fewshot::FewShotOptions KShotFewShotOptions(const NewsiteStream& s, const NewsiteOptions& o) {
  fewshot::FewShotOptions fo = o.fewshot;
  if (s.unit != "line") {
    fo.normal_match = o.session_normal_match;
    fo.lower_prior = 0;  // lines only (docs/EVALUATION.md "Session 12")
    fo.keep_alert_match = 0;  // lines only (tuned on lines; docs/EVALUATION.md "Session 15")
  }
  return fo;
}

NewsiteSplit MakeNewsiteSplit(const NewsiteStream& s, const ScoredStream& sc, double label_part,
                              int pool_blocks) {
  return MakeSplit(s, sc, label_part, pool_blocks);
}
NewsiteSplit KShotSplit(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o) {
  return MakeSplit(s, sc, o.label_part, o.pool_blocks, o.pool_tune, o.pool_tune_fold);
}
std::string PoolBlocksNote(const NewsiteOptions& o) {
  if (o.pool_blocks <= 0 && o.pool_tune) {
    return absl::StrFormat(
        "--pool-tune: tuning inside the label pool (the first %.0f%% of the stream): labels from the units "
        "starting in its %s half, measured on those starting in its %s half (the test part after it "
        "is not used)%s",
        100 * o.label_part, o.pool_tune_fold == 1 ? "second" : "first",
        o.pool_tune_fold == 1 ? "first" : "second", o.pool_tune_fold == 1 ? "; --pool-tune-fold 1" : "");
  }
  if (o.pool_blocks <= 0) {
    return absl::StrFormat(
        "the labelling pool is the units starting in the first %.0f%% of the stream, the measured units "
        "those starting after it",
        100 * o.label_part);
  }
  if (o.pool_tune) {
    return absl::StrFormat(
        "--pool-blocks %d --pool-tune: tuning inside the pool of %d equal blocks of the stream: labels from "
        "the units starting in blocks %s, ..., measured on those starting in blocks %s, ... "
        "(the odd blocks, the test part, are not used)%s",
        o.pool_blocks, 2 * o.pool_blocks, o.pool_tune_fold == 1 ? "2, 6, 10" : "0, 4, 8",
        o.pool_tune_fold == 1 ? "0, 4, 8" : "2, 6, 10", o.pool_tune_fold == 1 ? "; --pool-tune-fold 1" : "");
  }
  return absl::StrFormat(
      "--pool-blocks %d: the labelling pool is the units starting in the even ones of %d equal blocks of "
      "the stream, the measured units those in the odd ones (not the first part and the rest)",
      o.pool_blocks, 2 * o.pool_blocks);
}
absl::StatusOr<KShotRow> MeasureKShot(const NewsiteSplit& sp, const std::vector<double>& score,
                                      const std::vector<int>& alert) {
  return Measure(sp, score, alert);
}
std::vector<std::vector<size_t>> RandomLabelOrder(const NewsiteStream& s, const NewsiteSplit& sp,
                                                  uint64_t seed) {
  return RandomOrder(s, sp, seed);
}
std::vector<size_t> ActiveLabelOrder(const NewsiteStream& s, const ScoredStream& sc,
                                     const NewsiteSplit& sp, const NewsiteOptions& o, size_t budget) {
  return ActiveLabels(s, sc, sp, o, budget);
}
void AppendKShotMedians(const std::vector<std::vector<KShotRow>>& runs, int k,
                        const std::string& strategy, std::vector<KShotRow>* rows) {
  AppendMedians(runs, k, strategy, rows);
}

std::string ActivePicksCsv(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o) {
  const Split sp = KShotSplit(s, sc, o);
  std::vector<ActivePickTrace> trace;
  if (!o.shots.empty()) {
    const int max_k = *std::max_element(o.shots.begin(), o.shots.end());
    ActiveLabels(s, sc, sp, o, static_cast<size_t>(2 * max_k), &trace);
  }
  std::vector<int> free_alert(s.y.size(), 0);
  for (size_t u = 0; u < s.y.size(); ++u) free_alert[u] = sc.units[u].free_alert ? 1 : 0;
  std::string out = absl::StrFormat(
      "# pool=%zu test=%zu; label-free decisions right: pool %lld, test %lld\n"
      "order,round,unit,label,first_line,group,group_size,margin,uncertainty,disagreement,"
      "anomaly_probability,corrections,priority,pool_right,test_right\n",
      sp.pool.size(), sp.test.size(), static_cast<long long>(RightDecisions(s, sp.pool, free_alert)),
      static_cast<long long>(RightDecisions(s, sp.test, free_alert)));
  for (size_t i = 0; i < trace.size(); ++i) {
    const ActivePickTrace& t = trace[i];
    absl::StrAppendFormat(&out, "%zu,%d,%zu,%d,%lld,%d,%lld,%.4f,%.4f,%.4f,%.4f,%.2f,%.4f,%lld,%lld\n", i + 1,
                          t.round, t.unit, t.label, static_cast<long long>(t.first_line), t.pick.template_id,
                          static_cast<long long>(t.pick.group_size), t.pick.margin, t.pick.uncertainty,
                          t.pick.disagreement, t.pick.anomaly_probability, t.pick.corrections, t.pick.priority,
                          static_cast<long long>(t.pool_right), static_cast<long long>(t.test_right));
  }
  return out;
}

std::string KShotUnitsCsv(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o) {
  const Split sp = KShotSplit(s, sc, o);
  std::vector<int> part(s.y.size(), -1), active_rank(s.y.size(), -1);
  for (size_t u : sp.pool) part[u] = 0;
  for (size_t u : sp.test) part[u] = 1;
  if (!o.shots.empty()) {
    const int max_k = *std::max_element(o.shots.begin(), o.shots.end());
    const std::vector<size_t> order = ActiveLabels(s, sc, sp, o, static_cast<size_t>(2 * max_k));
    for (size_t i = 0; i < order.size(); ++i) active_rank[order[i]] = static_cast<int>(i);
  }
  std::string out = absl::StrFormat(
      "# free_threshold=%.6f\nunit,label,part,first_line,free_score,free_alert,group,active_rank,fused,tokens\n",
      FreeThreshold(sc, sp));
  for (size_t u = 0; u < s.y.size(); ++u) {
    const fewshot::Unit& x = sc.units[u];
    absl::StrAppendFormat(&out, "%zu,%d,%d,%lld,%.6f,%d,%d,%d,%.6f,", u, s.y[u], part[u],
                          static_cast<long long>(sc.unit_first_line[u]), x.free_score, x.free_alert ? 1 : 0,
                          GroupOf(x), active_rank[u], x.signals.empty() ? 0.0 : x.signals[0]);
    for (size_t t = 0; t < x.tokens.size(); ++t) absl::StrAppendFormat(&out, "%s%x", t ? ";" : "", x.tokens[t]);
    out += "\n";
  }
  return out;
}

absl::StatusOr<KShotResult> EvaluateKShot(const NewsiteStream& s, const ScoredStream& sc,
                                          const NewsiteOptions& o) {
  KShotResult out;
  const Split sp = KShotSplit(s, sc, o);
  out.pool_units = static_cast<int64_t>(sp.pool.size());
  for (size_t u : sp.pool) out.pool_anomalous += s.y[u];
  out.test_units = static_cast<int64_t>(sp.test.size());
  out.test_anomalous = std::count(sp.test_y.begin(), sp.test_y.end(), 1);
  out.test_lines = sp.test_lines;
  out.notes.push_back(PoolBlocksNote(o));
  if (out.test_anomalous == 0 || out.test_anomalous == out.test_units) {
    out.notes.push_back("the test part holds one class only: no k > 0 rows");
    return out;
  }
  FEDLOG_RETURN_IF_ERROR(LabelFreeRows(s, sc, sp, o, &out));
  const fewshot::FewShotOptions fo = KShotFewShotOptions(s, o);
  std::vector<size_t> active_order;  // one sequence of picks; k takes its first 2k
  if (o.strategy != "random" && !o.shots.empty()) {
    const int max_k = *std::max_element(o.shots.begin(), o.shots.end());
    active_order = ActiveLabels(s, sc, sp, o, static_cast<size_t>(2 * max_k));
  }
  for (int k : o.shots) {
    if (o.strategy != "active") {
      std::vector<std::vector<KShotRow>> runs;  // per seed: the methods' rows
      for (int r = 0; r < o.seeds; ++r) {
        const auto order = RandomOrder(s, sp, o.seed + static_cast<uint64_t>(r));
        std::vector<size_t> labelled;
        std::vector<int> y;
        for (int c = 0; c < 2; ++c) {
          const size_t take = std::min(order[static_cast<size_t>(c)].size(), static_cast<size_t>(k));
          for (size_t i = 0; i < take; ++i) {
            labelled.push_back(order[static_cast<size_t>(c)][i]);
            y.push_back(c);
          }
        }
        std::vector<KShotRow> rows;
        if (KShotMethods(sc, sp, labelled, y, fo, &rows).ok()) runs.push_back(rows);
      }
      AppendMedians(runs, k, "random", &out.rows);
    }
    if (o.strategy != "random") {
      const size_t n = std::min(active_order.size(), static_cast<size_t>(2 * k));
      const std::vector<size_t> labelled(active_order.begin(), active_order.begin() + static_cast<std::ptrdiff_t>(n));
      std::vector<int> y;
      for (size_t u : labelled) y.push_back(s.y[u] > 0 ? 1 : 0);
      std::vector<KShotRow> rows;
      absl::Status st = KShotMethods(sc, sp, labelled, y, fo, &rows);
      if (!st.ok()) {
        out.notes.push_back(absl::StrCat("active, k=", k, ": ", st.message()));
      } else {
        AppendMedians({rows}, k, "active", &out.rows);
      }
    }
  }
  return out;
}

}  // namespace fedlog::offline
