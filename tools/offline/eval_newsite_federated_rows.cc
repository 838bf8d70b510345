// The rows and the report of `fedlog eval newsite --federated` (eval_newsite_federated.h): each
// encoder at k = 0 (budget thresholds) and at every k with eval newsite's label draws, measured on
// eval newsite's test units; then federated against alone per k.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

constexpr char kFused[] = " + label-free";
constexpr char kSupport[] = "support detector";
constexpr char kFusedSupport[] = "fused support";
constexpr char kNoveltyFused[] = "embedding novelty + label-free";
constexpr char kCounted[] = ", label-free count";
constexpr char kHybridSupport[] = "hybrid support";
constexpr char kCapped[] = ", capped";
constexpr char kCappedUndecided[] = ", capped undecided";
constexpr char kModelThreshold[] = ", model threshold";

// The site's alert budget as a cut on the pool units' scores: a unit alerts when its score is above
// the (1 - rate) quantile (ties at the cut do not alert, so the budget is not exceeded).
double BudgetCut(const NewsiteSplit& sp, const std::vector<double>& unit_score, double rate) {
  std::vector<double> pool;
  for (size_t u : sp.pool) pool.push_back(unit_score[u]);
  if (pool.empty()) return std::numeric_limits<double>::infinity();
  std::sort(pool.begin(), pool.end(), std::greater<double>());
  const size_t i = static_cast<size_t>(std::floor(rate * static_cast<double>(pool.size())));
  return i < pool.size() ? pool[i] : -std::numeric_limits<double>::infinity();
}

// The mean of the label-free score and the encoder score's rank among the pool units (both in
// [0, 1], so neither scale dominates).
std::vector<double> FuseWithLabelFree(const NewsiteSplit& sp, const ScoredStream& sc,
                                      const std::vector<double>& unit_score) {
  std::vector<double> pool;
  for (size_t u : sp.pool) pool.push_back(unit_score[u]);
  std::sort(pool.begin(), pool.end());
  const double n = std::max<double>(1.0, static_cast<double>(pool.size()));
  std::vector<double> out(unit_score.size());
  for (size_t u = 0; u < unit_score.size(); ++u) {
    const auto lo = std::lower_bound(pool.begin(), pool.end(), unit_score[u]);
    const auto hi = std::upper_bound(pool.begin(), pool.end(), unit_score[u]);
    const double rank = (static_cast<double>(lo - pool.begin()) + 0.5 * static_cast<double>(hi - lo)) / n;
    out[u] = 0.5 * (sc.units[u].free_score + rank);
  }
  return out;
}

// Metrics on the test units of `unit_score` with alerts at score > cut (strict) or >= cut.
absl::StatusOr<KShotRow> Row(const NewsiteSplit& sp, const std::string& method,
                             const std::vector<double>& unit_score, double cut, bool strict) {
  std::vector<double> score;
  std::vector<int> alert;
  for (size_t u : sp.test) {
    score.push_back(unit_score[u]);
    alert.push_back(strict ? unit_score[u] > cut : unit_score[u] >= cut);
  }
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
  row.method = method;
  row.runs = 1;
  return row;
}

// k = 0: one encoder's label-free scores alone and fused, at the site's budget; the fused one also
// at the label-free detector's pool count.
absl::Status K0Rows(const NewsiteSplit& sp, const ScoredStream& sc, const ArmModel& m, double rate,
                    std::vector<KShotRow>* rows) {
  for (const auto& [signal, score] : m.k0) {
    const std::vector<double> fused = FuseWithLabelFree(sp, sc, score);
    const std::vector<std::pair<std::string, const std::vector<double>*>> variants = {
        {signal, &score}, {signal + kFused, &fused}};
    for (const auto& [name, v] : variants) {
      FEDLOG_ASSIGN_OR_RETURN(KShotRow row, Row(sp, m.name + ": " + name, *v, BudgetCut(sp, *v, rate), true));
      row.strategy = std::string(1, '-');  // (operator=(const char*) trips GCC 12 -Wrestrict)
      rows->push_back(row);
    }
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, Row(sp, m.name + ": " + signal + kFused + kCounted, fused,
                                              LabelFreeCountCut(sp, sc, fused), false));
    row.strategy = std::string(1, '-');
    rows->push_back(row);
  }
  // The prototypes at their own detector's threshold: what live detection alerts on when the model
  // scores the source with no labels (detect.detector_choice = model). The budget's quantile above
  // alerts nothing when the top pool scores tie at a saturated P(anomalous).
  if (!std::isnan(m.global_threshold) && m.k0.size() > 1) {
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, Row(sp, m.name + ": " + m.k0[1].first + kModelThreshold, m.k0[1].second,
                                              m.global_threshold, false));
    row.strategy = std::string(1, '-');
    rows->push_back(row);
  }
  return absl::OkStatus();
}

// One label draw, one encoder: its support detector. A model that cannot build one (the draw lacks
// a class and the model has no prototypes to fill it) keeps its k = 0 fused novelty.
absl::StatusOr<KShotRow> DrawRow(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& sp,
                                 const NewsiteLines& site, const model::EncoderSpec& spec, const ArmModel& m,
                                 const std::vector<size_t>& labelled, const std::vector<int>& y,
                                 const NewsiteOptions& o, int* fallbacks) {
  double threshold = 0;
  absl::StatusOr<std::vector<double>> score = SupportDetectorScores(m, spec, s, site, labelled, y, o, &threshold);
  KShotRow row;
  if (score.ok()) {
    FEDLOG_ASSIGN_OR_RETURN(row, Row(sp, m.name + ": " + kSupport, *score, threshold, false));
  } else if (score.status().code() == absl::StatusCode::kFailedPrecondition) {
    ++*fallbacks;
    const std::vector<double> fused = FuseWithLabelFree(sp, sc, m.k0[0].second);
    FEDLOG_ASSIGN_OR_RETURN(row, Row(sp, m.name + ": " + kSupport, fused,
                                     BudgetCut(sp, fused, o.detector.expected_alert_rate), true));
  } else {
    return score.status();
  }
  row.labels = static_cast<double>(labelled.size());
  return row;
}

// What the cap of the ", capped" rows is spent on (stderr): the label-free detector's alerts among
// the pool units against the pool units a label decides anomalous (fused score >= 2). When the
// second reaches the first, the capped row has no alert left for the test units.
void LogCapSpend(const NewsiteSplit& sp, const ScoredStream& sc, const std::vector<double>& score,
                 const std::string& name, size_t labels) {
  size_t free_alerts = 0, matched_anomalous = 0, matched_normal = 0;
  for (size_t u : sp.pool) {
    free_alerts += sc.units[u].free_alert ? 1 : 0;
    matched_anomalous += score[u] >= 2.0 ? 1 : 0;
    matched_normal += score[u] <= -1.0 ? 1 : 0;
  }
  std::cerr << absl::StrFormat(
      "[cap] %s, %zu labels: pool %zu units, label-free alerts %zu, matched anomalous %zu, matched "
      "normal %zu\n",
      name, labels, sp.pool.size(), free_alerts, matched_anomalous, matched_normal);
}

// One label draw, one encoder: the fused support detector at each match value of `units` (the first
// also capped at the label-free detector's pool count), then the hybrid support detector.
absl::Status FusedDrawRows(const ScoredStream& sc, const NewsiteSplit& sp, const FusedUnits& units,
                           const ArmModel& m, const std::vector<size_t>& labelled, const std::vector<int>& y,
                           const NewsiteOptions& o, std::vector<KShotRow>* rows) {
  for (size_t i = 0; i < units.match.size(); ++i) {
    double threshold = 0;
    FEDLOG_ASSIGN_OR_RETURN(std::vector<double> score,
                            FusedSupportScores(units, sc, sp, labelled, y, units.match[i], &threshold));
    const std::string name = i == 0 ? std::string(kFusedSupport)
                                    : absl::StrFormat("%s q=%g", kFusedSupport, o.federated.match_quantiles[i]);
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, Row(sp, m.name + ": " + name, score, threshold, false));
    row.labels = static_cast<double>(labelled.size());
    rows->push_back(row);
    if (i > 0) continue;
    // Capped: never more alerts among the earlier units than the label-free detector raised there.
    FEDLOG_ASSIGN_OR_RETURN(KShotRow capped, Row(sp, m.name + ": " + name + kCapped, score,
                                                 std::max(threshold, LabelFreeCountCut(sp, sc, score)), false));
    capped.labels = static_cast<double>(labelled.size());
    rows->push_back(capped);
    // Capped among the units no label decides: the cap is at most 2, so it never silences a unit
    // matched to an anomalous label that the detector itself alerts on.
    FEDLOG_ASSIGN_OR_RETURN(KShotRow undecided,
                            Row(sp, m.name + ": " + name + kCappedUndecided, score,
                                std::max(threshold, UndecidedCountCut(sp, sc, score)), false));
    undecided.labels = static_cast<double>(labelled.size());
    rows->push_back(undecided);
    LogCapSpend(sp, sc, score, m.name + ": " + name, labelled.size());
  }
  double threshold = 0, weight = 0;
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> hybrid,
                          HybridSupportScores(units, sp, labelled, y, &threshold, &weight));
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, Row(sp, m.name + ": " + kHybridSupport, hybrid, threshold, false));
  row.labels = static_cast<double>(labelled.size());
  rows->push_back(row);
  return absl::OkStatus();
}

// The label draws of eval newsite's k > 0 protocol, in a fixed order: per k, the random seeds
// (k per class, nested across k) and then, with active selection, its first 2k picks.
struct Draw {
  int k = 0;
  std::string strategy;
  std::vector<size_t> labelled;
  std::vector<int> y;
};

std::vector<Draw> Draws(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& sp,
                        const NewsiteOptions& o) {
  std::vector<size_t> active;
  if (o.strategy != "random" && !o.shots.empty()) {
    const int max_k = *std::max_element(o.shots.begin(), o.shots.end());
    active = ActiveLabelOrder(s, sc, sp, o, static_cast<size_t>(2 * max_k));
  }
  std::vector<Draw> draws;
  for (int k : o.shots) {
    for (int r = 0; o.strategy != "active" && r < o.seeds; ++r) {
      const auto order = RandomLabelOrder(s, sp, o.seed + static_cast<uint64_t>(r));
      Draw d{k, "random", {}, {}};
      for (int c = 0; c < 2; ++c) {
        const auto& members = order[static_cast<size_t>(c)];
        for (size_t i = 0; i < std::min(members.size(), static_cast<size_t>(k)); ++i) {
          d.labelled.push_back(members[i]);
          d.y.push_back(c);
        }
      }
      draws.push_back(std::move(d));
    }
    if (o.strategy != "random") {
      const size_t n = std::min(active.size(), static_cast<size_t>(2 * k));
      Draw d{k, "active", std::vector<size_t>(active.begin(), active.begin() + static_cast<std::ptrdiff_t>(n)), {}};
      for (size_t u : d.labelled) d.y.push_back(s.y[u] > 0 ? 1 : 0);
      draws.push_back(std::move(d));
    }
  }
  return draws;
}

}  // namespace

absl::StatusOr<FederatedArmRows> EvaluateArm(const NewsiteStream& s, const ScoredStream& sc,
                                             const NewsiteLines& site, const model::EncoderSpec& spec,
                                             const std::vector<NamedEncoder>& encoders,
                                             const NewsiteOptions& o) {
  FederatedArmRows out;
  // label_part's split; with --pool-tune (no --pool-blocks) its tuning part inside the first label_part
  // (the encoders' unlabelled training lines, those before label_part, then hold the measured part).
  // --pool-blocks leaves the arm on label_part: its odd blocks would lie among the training lines.
  const NewsiteSplit sp = o.pool_blocks > 0 ? MakeNewsiteSplit(s, sc, o.label_part) : KShotSplit(s, sc, o);
  if (o.pool_tune && o.pool_blocks <= 0) out.notes.push_back(PoolBlocksNote(o));
  const int64_t anomalous = std::count(sp.test_y.begin(), sp.test_y.end(), 1);
  if (anomalous == 0 || anomalous == static_cast<int64_t>(sp.test.size())) {
    out.notes.push_back("the test part holds one class only: no rows");
    return out;
  }
  const std::vector<Draw> draws = Draws(s, sc, sp, o);
  std::vector<std::vector<KShotRow>> per_draw(draws.size());  // per draw: one row per encoder
  int fallbacks = 0;
  const PriorBase base = ProductK0Detector(s, sc);
  if (o.federated.sibling) FEDLOG_RETURN_IF_ERROR(OperatingPointRows(s, sp, base, o, &out.rows, &out.notes));
  std::optional<FederationKinds> kinds;  // with a sibling: the federation's kind verdicts
  if (o.federated.sibling) {
    FEDLOG_ASSIGN_OR_RETURN(kinds, LoadFederationKinds(s, sp, o, &out.notes, &base.alert));
    FEDLOG_RETURN_IF_ERROR(KindVerdictK0Row(sp, base, *kinds, &out.rows, &out.notes));
  }
  std::vector<std::optional<KShotRow>> label_free_rows(draws.size());  // per draw, the same for every arm
  // One encoder at a time (its embeddings are large); the rows of a draw keep the encoders' order.
  for (const auto& [name, weights] : encoders) {
    FEDLOG_ASSIGN_OR_RETURN(const ArmModel m, ScoreArmModelAtK0(name, spec, *weights, s, site, o));
    FEDLOG_RETURN_IF_ERROR(K0Rows(sp, sc, m, o.detector.expected_alert_rate, &out.rows));
    FEDLOG_RETURN_IF_ERROR(ChoiceK0Rows(sp, base, name, name == encoders.front().first, o, &out.rows));
    FEDLOG_ASSIGN_OR_RETURN(const PriorScores prior0, PriorUnitScores(m, spec, site, base, sp, {}, {}, o));
    FEDLOG_RETURN_IF_ERROR(PriorRows(s, sc, sp, prior0, {}, {}, name, o, &out.rows));
    out.notes.push_back(absl::StrCat(name, ": prototype prior at k = 0 ",
                                     prior0.has_prior ? "from prototypes.global" : "none (no prototype)"));
    const std::vector<fewshot::Unit> encoder_units =
        EncoderUnits(m, static_cast<size_t>(spec.out_dim), s, sc, site, sp, base);
    FEDLOG_ASSIGN_OR_RETURN(const FusedUnits units, MakeFusedUnits(m, spec, sc, site, sp, o));
    std::string matches;
    for (double v : units.match) absl::StrAppend(&matches, matches.empty() ? "" : ", ", absl::StrFormat("%.4f", v));
    out.notes.push_back(absl::StrCat(name, ": fused support match (cosine) ", matches));
    std::vector<int> chose_model;
    for (size_t i = 0; i < draws.size(); ++i) {
      const int fallbacks_before = fallbacks;
      FEDLOG_ASSIGN_OR_RETURN(KShotRow row, DrawRow(s, sc, sp, site, spec, m, draws[i].labelled, draws[i].y, o,
                                                    &fallbacks));
      per_draw[i].push_back(row);
      if (!label_free_rows[i].has_value()) {
        FEDLOG_ASSIGN_OR_RETURN(label_free_rows[i], LabelFreeProductRow(s, sp, encoder_units, base,
                                                                        draws[i].labelled, draws[i].y, o));
        label_free_rows[i]->labels = static_cast<double>(draws[i].labelled.size());
        per_draw[i].push_back(*label_free_rows[i]);
        if (kinds.has_value()) {
          FEDLOG_ASSIGN_OR_RETURN(KShotRow kind_row, KindVerdictDrawRow(s, sp, encoder_units, base, *kinds,
                                                                        draws[i].labelled, draws[i].y, o));
          per_draw[i].push_back(kind_row);
        }
      }
      FEDLOG_RETURN_IF_ERROR(ChoiceRows(s, sp, encoder_units, draws[i].labelled, draws[i].y,
                                        fallbacks == fallbacks_before ? &row : nullptr, *label_free_rows[i], name,
                                        o, &per_draw[i], &chose_model));
      FEDLOG_RETURN_IF_ERROR(FusedDrawRows(sc, sp, units, m, draws[i].labelled, draws[i].y, o, &per_draw[i]));
      FEDLOG_ASSIGN_OR_RETURN(const PriorScores prior,
                              PriorUnitScores(m, spec, site, base, sp, draws[i].labelled, draws[i].y, o));
      FEDLOG_RETURN_IF_ERROR(PriorRows(s, sc, sp, prior, draws[i].labelled, draws[i].y, name, o, &per_draw[i]));
      FEDLOG_RETURN_IF_ERROR(EncoderRows(s, sp, encoder_units, base, draws[i].labelled, draws[i].y, name, o, &per_draw[i]));
    }
    for (size_t j = 0; j < chose_model.size(); ++j) {
      out.notes.push_back(absl::StrFormat("%s: choice (margin %g) gave the model %d of %zu label draws", name,
                                          o.federated.choice_margins[j], chose_model[j], draws.size()));
    }
  }
  for (size_t i = 0; i < draws.size();) {
    std::vector<std::vector<KShotRow>> runs;
    size_t j = i;
    for (; j < draws.size() && draws[j].k == draws[i].k && draws[j].strategy == draws[i].strategy; ++j) {
      runs.push_back(per_draw[j]);
    }
    AppendKShotMedians(runs, draws[i].k, draws[i].strategy, &out.rows);
    i = j;
  }
  if (fallbacks > 0) {
    out.notes.push_back(absl::StrCat(fallbacks, " support detectors could not be built (a class missing, no "
                                     "prototypes to fill it) and kept the model's k = 0 fused novelty"));
  }
  return out;
}

NewsiteArmResult ArmReport(const NewsiteStream& s, const FederatedArmRows& r) {
  NewsiteArmResult out;
  std::string& md = out.markdown;
  absl::StrAppendFormat(&md, "\n### %s: the federated new site against the same site alone (%.1f s)\n\n",
                        s.system, r.seconds);
  for (const std::string& n : r.notes) absl::StrAppend(&md, "- ", n, "\n");
  absl::StrAppend(&md, "\n| method | labels | k | labels used | AUROC | PR-AUC | P | R | F1 | alerts/10k lines | "
                       "alert rate, normal ", s.unit, "s |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  out.json.assign(1, '[');  // (operator=(const char*) trips GCC 12 -Wrestrict)
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const KShotRow& w = r.rows[i];
    absl::StrAppendFormat(&md, "| %s | %s | %d | %.0f | %.3f | %.3f | %.3f | %.3f | **%.3f** | %.1f | %.4f |\n",
                          w.method, w.strategy, w.k, w.labels, w.auroc, w.pr_auc, w.precision, w.recall, w.f1,
                          w.alerts_per_10k, w.normal_alert_rate);
    absl::StrAppendFormat(&out.json,
                          "%s\n  {\"method\": \"%s\", \"strategy\": \"%s\", \"k\": %d, \"labels\": %.1f, "
                          "\"auroc\": %.6f, \"pr_auc\": %.6f, \"precision\": %.6f, \"recall\": %.6f, "
                          "\"f1\": %.6f, \"alerts_per_10k\": %.3f, \"normal_alert_rate\": %.6f, \"runs\": %d}",
                          i ? "," : "", w.method, w.strategy, w.k, w.labels, w.auroc, w.pr_auc, w.precision,
                          w.recall, w.f1, w.alerts_per_10k, w.normal_alert_rate, w.runs);
  }
  out.json += "]";
  // Federated against alone, the same method: k = 0 the fused embedding novelty (budget cut and
  // label-free count) and the prototype prior, k > 0 the support, fused support (plain and capped),
  // hybrid support and prototype prior detectors.
  absl::StrAppend(&md, "\nF1, federated / tuned / alone (the same method and labels):\n");
  auto f1 = [&](const std::string& method, const std::string& strategy, int k) {
    for (const KShotRow& w : r.rows) {
      if (w.method == method && w.strategy == strategy && w.k == k) return w.f1;
    }
    return std::nan("");
  };
  std::vector<std::pair<std::string, int>> cells = {{"-", 0}};
  for (const KShotRow& w : r.rows) {
    if (w.k > 0 && std::find(cells.begin(), cells.end(), std::make_pair(w.strategy, w.k)) == cells.end()) {
      cells.emplace_back(w.strategy, w.k);
    }
  }
  for (const auto& [strategy, k] : cells) {
    const double kind = f1(std::string("federated: ") + kKindVerdicts, strategy, k);
    if (!std::isnan(kind)) {
      const double product = f1(kLabelFreeProduct, strategy, k);
      absl::StrAppendFormat(&md, "- k = %d%s, %s: %.3f against %s (= alone) %.3f: federated %s alone\n", k,
                            k == 0 ? "" : " (" + strategy + ")", kKindVerdicts, kind, kLabelFreeProduct, product,
                            kind > product ? "beats" : "does not beat");
    }
    const std::vector<std::string> methods =
        k == 0 ? std::vector<std::string>{kNoveltyFused, std::string(kNoveltyFused) + kCounted, kPrototypePrior,
                                          kChoice}
               : std::vector<std::string>{kSupport, kFusedSupport, std::string(kFusedSupport) + kCapped,
                                          std::string(kFusedSupport) + kCappedUndecided, kHybridSupport,
                                          kPrototypePrior, kFewshotEncoder, kChoice};
    for (const std::string& m : methods) {
      const double fed = f1("federated: " + m, strategy, k), tuned = f1("tuned: " + m, strategy, k),
                   alone = f1("alone: " + m, strategy, k);
      absl::StrAppendFormat(&md, "- k = %d%s, %s: %.3f / %.3f / %.3f: federated %s alone, tuned %s alone\n", k,
                            k == 0 ? "" : " (" + strategy + ")", m, fed, tuned, alone,
                            fed > alone ? "beats" : "does not beat", tuned > alone ? "beats" : "does not beat");
    }
  }
  return out;
}

}  // namespace fedlog::offline
