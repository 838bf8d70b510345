// `fedlog eval newsite --out DIR [--data DIR] [--systems bgl2k,bgl,hdfs,hadoop] [--budget R]
// [--max-alert-rate R] [--shots 5,10,30] [--seeds N] [--strategy random|active|both] ...`: metrics per
// system and method, results.json / results.md / learning_curve.svg. Its command line (usage, flags,
// their checks) is eval_newsite_args.cc.
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/threshold.h"
#include "common/novelty/tail_histogram.h"
#include "tools/offline/eval_newsite.h"
#include "tools/offline/eval_newsite_session_labels.h"

namespace fedlog::offline {
namespace {

// Max of the line values over each unit's lines (0 for a unit without lines).
std::vector<double> UnitMax(const NewsiteStream& s, const std::vector<double>& v) {
  std::vector<double> out(s.y.size(), 0.0);
  for (size_t i = 0; i < v.size(); ++i) {
    for (int32_t u : s.units[i]) out[static_cast<size_t>(u)] = std::max(out[static_cast<size_t>(u)], v[i]);
  }
  return out;
}

std::vector<uint8_t> BudgetAlerts(const std::vector<double>& scores, double rate, int64_t warmup) {
  novelty::AlertBudget budget(rate, warmup);
  std::vector<uint8_t> out(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) out[i] = budget.Decide(scores[i]) ? 1 : 0;
  return out;
}

// The highest alert rate on normal lines (lines whose units are all normal) over every run of
// `window` consecutive lines (the whole stream when shorter); 0 when no run holds a normal line.
double WorstWindowNormalRate(const NewsiteStream& s, const std::vector<uint8_t>& alerts,
                             int64_t window) {
  const size_t n = alerts.size();
  std::vector<int64_t> normal(n + 1, 0), false_alerts(n + 1, 0);  // prefix sums
  for (size_t i = 0; i < n; ++i) {
    bool is_normal = !s.units[i].empty();
    for (int32_t u : s.units[i]) is_normal = is_normal && s.y[static_cast<size_t>(u)] == 0;
    normal[i + 1] = normal[i] + (is_normal ? 1 : 0);
    false_alerts[i + 1] = false_alerts[i] + (is_normal && alerts[i] ? 1 : 0);
  }
  const size_t w = std::min(n, static_cast<size_t>(std::max<int64_t>(window, 1)));
  double worst = 0;
  for (size_t end = w; end <= n && w > 0; ++end) {
    const int64_t lines = normal[end] - normal[end - w];
    if (lines == 0) continue;
    worst = std::max(worst, static_cast<double>(false_alerts[end] - false_alerts[end - w]) /
                                static_cast<double>(lines));
  }
  return worst;
}

// One method: ranking metrics from `scores` (per line, max per unit), threshold metrics from
// `alerts` (per line, any per unit) unless empty; the worst normal-line rate over `window` lines.
absl::StatusOr<NewsiteRow> Evaluate(const NewsiteStream& s, const std::string& method,
                                    double budget, const std::vector<double>& scores,
                                    const std::vector<uint8_t>& alerts, int64_t window) {
  NewsiteRow row;
  row.method = method;
  row.budget = budget;
  row.ranking_only = alerts.empty();
  const std::vector<double> unit = UnitMax(s, scores);
  FEDLOG_ASSIGN_OR_RETURN(row.auroc, eval::Auroc(s.y, unit));
  FEDLOG_ASSIGN_OR_RETURN(row.pr_auc, eval::AveragePrecision(s.y, unit));
  FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice oracle, eval::SelectThresholdMaxF1(s.y, unit));
  row.oracle_f1 = oracle.f1;
  if (alerts.empty()) return row;
  std::vector<int> unit_alert(s.y.size(), 0);
  int64_t line_alerts = 0, normal_lines = 0, normal_line_alerts = 0;
  for (size_t i = 0; i < alerts.size(); ++i) {
    line_alerts += alerts[i];
    bool normal = !s.units[i].empty();
    for (int32_t u : s.units[i]) {
      if (alerts[i]) unit_alert[static_cast<size_t>(u)] = 1;
      normal = normal && s.y[static_cast<size_t>(u)] == 0;
    }
    normal_lines += normal ? 1 : 0;
    normal_line_alerts += normal && alerts[i] ? 1 : 0;
  }
  FEDLOG_ASSIGN_OR_RETURN(eval::ConfusionMatrix cm, eval::ComputeConfusion(s.y, unit_alert));
  row.precision = eval::Precision(cm);
  row.recall = eval::Recall(cm);
  row.f1 = eval::F1(cm);
  row.alerts_per_10k = 1e4 * static_cast<double>(line_alerts) / std::max<size_t>(alerts.size(), 1);
  row.normal_line_alert_rate =
      static_cast<double>(normal_line_alerts) / static_cast<double>(std::max<int64_t>(normal_lines, 1));
  row.normal_unit_alert_rate =
      static_cast<double>(cm.fp) / static_cast<double>(std::max<int64_t>(cm.fp + cm.tn, 1));
  row.worst_window_normal_rate = WorstWindowNormalRate(s, alerts, window);
  return row;
}

std::string Md(const NewsiteSystemResult& r, double budget, int64_t window) {
  std::string md = absl::StrFormat(
      "\n## %s (%lld %ss, %lld anomalous; %lld lines, %lld templates; %.1f s)\n\n", r.system,
      static_cast<long long>(r.units), r.unit, static_cast<long long>(r.anomalous_units),
      static_cast<long long>(r.lines), static_cast<long long>(r.templates), r.seconds);
  for (const std::string& n : r.notes) absl::StrAppend(&md, "- ", n, "\n");
  absl::StrAppend(&md,
                  "\n| method | budget | AUROC | PR-AUC | P | R | F1 (site threshold) | oracle F1 | "
                  "alerts/10k lines | alert rate, normal lines | alert rate, normal ",
                  r.unit, "s | ",
                  absl::StrFormat("worst %lld-line window, normal lines",
                                  static_cast<long long>(window)),
                  " |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const NewsiteRow& row : r.rows) {
    const std::string b = row.budget > 0 ? absl::StrFormat("%.3g", row.budget) : "-";
    if (row.ranking_only) {
      absl::StrAppendFormat(&md, "| %s | - | %.3f | %.3f | - | - | - | %.3f | - | - | - | - |\n",
                            row.method, row.auroc, row.pr_auc, row.oracle_f1);
      continue;
    }
    const std::string worst = row.worst_window_normal_rate >= 0
                                  ? absl::StrFormat("%.4f", row.worst_window_normal_rate)
                                  : std::string("-");
    absl::StrAppendFormat(&md,
                          "| %s | %s | %.3f | %.3f | %.3f | %.3f | **%.3f** | %.3f | %.1f | %.4f | "
                          "%.4f | %s |\n",
                          row.method, b, row.auroc, row.pr_auc, row.precision, row.recall, row.f1,
                          row.oracle_f1, row.alerts_per_10k, row.normal_line_alert_rate,
                          row.normal_unit_alert_rate, worst);
  }
  std::string fired;
  for (const auto& [name, n] : r.fired_counts) absl::StrAppend(&fired, fired.empty() ? "" : ", ", name, " ", n);
  absl::StrAppendFormat(&md, "\nSignals that fired on the detector's %.3g-budget alerts: %s.\n", budget,
                        fired.empty() ? "none" : fired);
  return md;
}

std::string Json(const std::vector<NewsiteSystemResult>& results, const NewsiteOptions& o) {
  std::string j =
      absl::StrFormat("{\"expected_alert_rate\": %.6g, \"report_window\": %lld, \"systems\": [",
                      o.detector.expected_alert_rate, static_cast<long long>(ReportWindow(o)));
  for (size_t k = 0; k < results.size(); ++k) {
    const NewsiteSystemResult& r = results[k];
    absl::StrAppendFormat(&j,
                          "%s\n {\"system\": \"%s\", \"unit\": \"%s\", \"lines\": %lld, \"units\": %lld, "
                          "\"anomalous_units\": %lld, \"templates\": %lld, \"rows\": [",
                          k ? "," : "", r.system, r.unit, static_cast<long long>(r.lines),
                          static_cast<long long>(r.units), static_cast<long long>(r.anomalous_units),
                          static_cast<long long>(r.templates));
    for (size_t i = 0; i < r.rows.size(); ++i) {
      const NewsiteRow& w = r.rows[i];
      absl::StrAppendFormat(&j,
                            "%s\n  {\"method\": \"%s\", \"budget\": %.6g, \"ranking_only\": %s, "
                            "\"auroc\": %.6f, \"pr_auc\": %.6f, \"precision\": %.6f, \"recall\": %.6f, "
                            "\"f1\": %.6f, \"oracle_f1\": %.6f, \"alerts_per_10k\": %.3f, "
                            "\"normal_line_alert_rate\": %.6f, \"normal_unit_alert_rate\": %.6f, "
                            "\"worst_window_normal_rate\": %.6f}",
                            i ? "," : "", w.method, w.budget, w.ranking_only ? "true" : "false",
                            w.auroc, w.pr_auc, w.precision, w.recall, w.f1, w.oracle_f1,
                            w.alerts_per_10k, w.normal_line_alert_rate, w.normal_unit_alert_rate,
                            w.worst_window_normal_rate);
    }
    absl::StrAppend(&j, "]}");
  }
  absl::StrAppend(&j, "\n]}\n");
  return j;
}

// --dump: one row per line (its first unit's label, the detector's score and alert, each raw signal,
// the severity rule, the threshold that decided it ("inf" in the warm-up) and whether the budget
// window withheld its alert; the template last), for looking at what the detector did.
std::string LinesCsv(const NewsiteStream& s, const ScoredStream& sc) {
  std::string out = "line,unit,label,score,alert,severity_rule";
  for (int k = 0; k < novelty::kNumSignals; ++k) absl::StrAppend(&out, ",", std::string(novelty::SignalName(k)));
  out += ",threshold,withheld,template\n";
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const int32_t u = s.units[i].empty() ? -1 : s.units[i][0];
    absl::StrAppendFormat(&out, "%zu,%d,%d,%.4f,%d,%d", i, u, u < 0 ? -1 : s.y[static_cast<size_t>(u)],
                          sc.fused[i], sc.alert[i], sc.severity_rule[i]);
    for (int k = 0; k < novelty::kNumSignals; ++k) {
      absl::StrAppendFormat(&out, ",%.4f", sc.signal[static_cast<size_t>(k)][i]);
    }
    absl::StrAppendFormat(&out, ",%.4f,%d,%d\n", sc.threshold[i], sc.withheld[i], sc.template_id[i]);
  }
  return out;
}

// --dump, sessions: one row per session as it closed (any of its units anomalous, score, alert, each
// raw session signal).
std::string SessionsCsv(const NewsiteStream& s, const ScoredStream& sc) {
  std::string out = "session,unit,first_line,label,lines,score,alert,threshold,shape,kinds,rarest";
  for (int k = 0; k < novelty::kNumSessionSignals; ++k) {
    absl::StrAppend(&out, ",", std::string(novelty::SessionSignalName(k)));
  }
  out += ",key,piece,whole,union_score,union_alert,close_line\n";
  for (size_t i = 0; i < sc.sessions.size(); ++i) {
    const novelty::SessionScore& x = sc.sessions[i];
    int label = 0;
    for (int32_t u : sc.session_units[i]) label = std::max(label, s.y[static_cast<size_t>(u)]);
    const int32_t unit = sc.session_units[i].empty() ? -1 : sc.session_units[i][0];
    absl::StrAppendFormat(&out, "%zu,%d,%lld,%d,%lld,%.4f,%d,%.4f,%x,%x,%d", i, unit,
                          static_cast<long long>(unit < 0 ? -1 : sc.unit_first_line[static_cast<size_t>(unit)]),
                          label, static_cast<long long>(x.lines), x.score, x.alert ? 1 : 0, x.threshold,
                          x.shape, x.kinds, x.rarest_template);
    for (double v : x.raw) absl::StrAppendFormat(&out, ",%.4f", v);
    absl::StrAppendFormat(&out, ",%x,%d,%d,%.4f,%d,%lld", x.session, x.piece, x.whole ? 1 : 0, x.union_score,
                          x.union_alert ? 1 : 0,
                          static_cast<long long>(i < sc.session_close_line.size() ? sc.session_close_line[i] : -1));
    out += "\n";
  }
  return out;
}

}  // namespace

int64_t ReportWindow(const NewsiteOptions& options) {
  return options.detector.budget_window > 0 ? options.detector.budget_window
                                            : novelty::NoveltyOptions().budget_window;
}

absl::StatusOr<NewsiteSystemResult> EvaluateNewsite(const NewsiteStream& stream,
                                                    const ScoredStream& scored,
                                                    const NewsiteOptions& options) {
  NewsiteSystemResult r;
  r.system = stream.system;
  r.unit = stream.unit;
  r.lines = static_cast<int64_t>(stream.lines.size());
  r.units = static_cast<int64_t>(stream.y.size());
  r.anomalous_units = std::count(stream.y.begin(), stream.y.end(), 1);
  r.templates = scored.templates;
  r.notes = stream.notes;
  const double budget = options.detector.expected_alert_rate;
  const int64_t warmup = options.detector.warmup_lines;
  auto add = [&](const std::string& m, double b, const std::vector<double>& sc,
                 const std::vector<uint8_t>& al) -> absl::Status {
    FEDLOG_ASSIGN_OR_RETURN(NewsiteRow row, Evaluate(stream, m, b, sc, al, ReportWindow(options)));
    r.rows.push_back(row);
    return absl::OkStatus();
  };
  FEDLOG_RETURN_IF_ERROR(add("novelty (k=0, site threshold)", budget, scored.fused, scored.alert));
  FEDLOG_RETURN_IF_ERROR(add("novelty (k=0, budget only)", budget, scored.fused,
                             BudgetAlerts(scored.fused, budget, warmup)));
  r.notes.push_back(absl::StrFormat(
      "site threshold at the end of the stream: %s%s (%s rule)", scored.final_stage,
      scored.adapted_rate > 0 ? absl::StrFormat(" (alert rate raised to %.3f by the alarm-backed high cluster)", scored.adapted_rate)
                              : std::string(),
      std::string(novelty::RuleName(options.detector.threshold_rule))));
  std::vector<double> rule(scored.severity_rule.begin(), scored.severity_rule.end());
  FEDLOG_RETURN_IF_ERROR(add("severity-word rule", 0, rule, scored.severity_rule));
  const std::vector<double>& rarity = scored.signal[novelty::kTemplate];
  FEDLOG_RETURN_IF_ERROR(
      add("online template rarity", budget, rarity, BudgetAlerts(rarity, budget, warmup)));
  for (double b : options.budget_sweep) {
    if (std::abs(b - budget) < 1e-12) continue;
    FEDLOG_RETURN_IF_ERROR(add("novelty (k=0)", b, scored.fused, BudgetAlerts(scored.fused, b, warmup)));
  }
  for (int s = 0; s < novelty::kNumSignals; ++s) {
    FEDLOG_RETURN_IF_ERROR(add("signal: " + std::string(novelty::SignalName(s)), 0,
                               scored.signal[static_cast<size_t>(s)], {}));
  }
  for (int s = 0; s < novelty::kNumSignals; ++s) {
    int64_t n = 0;
    for (size_t i = 0; i < scored.fired.size(); ++i) {
      n += scored.alert[i] && (scored.fired[i] & (1u << s)) ? 1 : 0;
    }
    r.fired_counts.emplace_back(std::string(novelty::SignalName(s)), n);
  }
  return r;
}

namespace {

// Session 13's rank cut against the histogram threshold alone, on a system whose units are lines: the
// row with the setting the run does not use (the rank cut over 4,096 lines when it is off, the default;
// the histogram threshold alone, session 12's rule, when --rank-window turns it on).
absl::StatusOr<NewsiteRow> RankCutRow(const NewsiteStream& stream, const NewsiteOptions& o) {
  NewsiteOptions other = o;
  const bool off = o.detector.rank_window == 0;
  other.detector.rank_window = off ? 4096 : 0;
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream scored, ScoreNewsiteStream(stream, other));
  return Evaluate(stream,
                  off ? "novelty, rank cut (session 13, window 4096)"
                      : "novelty, session 12 (histogram threshold alone)",
                  o.detector.expected_alert_rate, scored.fused, scored.alert, ReportWindow(o));
}

// The row with the setting `field` of the label-free detector the run does not use: the default when the run
// turns it off (0), off when the run uses it. The default's row is named on_before + its value + on_after,
// the row without it off_name.
absl::StatusOr<NewsiteRow> OtherSettingRow(const NewsiteStream& stream, const NewsiteOptions& o,
                                           int64_t novelty::NoveltyOptions::*field, const std::string& on_before,
                                           const std::string& on_after, const std::string& off_name) {
  NewsiteOptions other = o;
  const bool off = o.detector.*field == 0;
  other.detector.*field = off ? novelty::NoveltyOptions().*field : 0;
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream scored, ScoreNewsiteStream(stream, other));
  return Evaluate(stream,
                  off ? absl::StrCat(on_before, other.detector.*field, on_after) : off_name,
                  o.detector.expected_alert_rate, scored.fused, scored.alert, ReportWindow(o));
}

// Session 15's budget window against the threshold alone, on a system whose units are lines (session 14's
// decision when the window is on).
absl::StatusOr<NewsiteRow> BudgetWindowRow(const NewsiteStream& stream, const NewsiteOptions& o) {
  return OtherSettingRow(stream, o, &novelty::NoveltyOptions::budget_window,
                         "novelty, budget window ", " (session 15)", "novelty, without the budget window (session 14)");
}

// Session 17's recurrence as a rate against the count (session 16's term), on a system whose units are lines.
absl::StatusOr<NewsiteRow> RecurrenceRow(const NewsiteStream& stream, const NewsiteOptions& o) {
  return OtherSettingRow(stream, o, &novelty::NoveltyOptions::recurrence_age_lines,
                         "novelty, recurrence as a rate over ", " lines (session 17)",
                         "novelty, recurrence as a count (session 16)");
}

struct SystemRun {
  NewsiteSystemResult k0;
  KShotResult kshot;
  NewsiteArmResult federated;  // --federated: the federated arm's section and JSON
};

absl::StatusOr<SystemRun> RunSystem(const std::string& system, const NewsiteOptions& o, bool dump,
                                    const NewsiteArmFn& federated_arm) {
  SystemRun run;
  FEDLOG_ASSIGN_OR_RETURN(NewsiteStream stream, LoadNewsiteStream(system, o.data_dir, NewsiteStreamPart(o, system)));
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream scored, ScoreNewsiteStream(stream, o));
  // The same detector with every signal at weight 1 and no severity prior: what the signals
  // do without the choice made on the tuning system.
  NewsiteOptions equal = o;
  equal.detector.weights.fill(1.0);
  equal.detector.severity_prior = 0;
  equal.detector.recurrence_weight = 0;
  equal.detector.report_weight = 0;
  equal.detector.fixed_weight = 0;
  equal.detector.path_weight = 0;
  equal.detector.quiet_weight = 0;
  equal.detector.hold_lines = 0;
  equal.detector.session.weights.fill(1.0);
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream flat, ScoreNewsiteStream(stream, equal));
  // The previous detector (session 9): the valley threshold rule and no path term; what session
  // 10's choices (made on the tuning system only) change on each system.
  NewsiteOptions across = o;
  across.detector.threshold_rule = novelty::ThresholdRule::kValley;
  across.detector.path_weight = 0;
  across.detector.quiet_weight = 0;
  across.detector.reports_adapt = true;
  across.detector.rank_window = 0;
  // Session 9's sessions: an incomplete session closes at the usual quiet time (the `no_wait` rows).
  across.detector.session.shape.incomplete_quiet_ms = 0;
  FEDLOG_ASSIGN_OR_RETURN(ScoredStream levels, ScoreNewsiteStream(stream, across));
  if (dump) {
    FEDLOG_RETURN_IF_ERROR(MakeDirs(o.out_dir));
    FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(o.out_dir, system + "_lines.csv"), LinesCsv(stream, scored)));
    if (!scored.sessions.empty()) {
      FEDLOG_RETURN_IF_ERROR(
          WriteFileAtomic(JoinPath(o.out_dir, system + "_sessions.csv"), SessionsCsv(stream, scored)));
    }
    FEDLOG_RETURN_IF_ERROR(
        WriteFileAtomic(JoinPath(o.out_dir, system + "_units.csv"), KShotUnitsCsv(stream, scored, o)));
    if (o.strategy != "random") {
      FEDLOG_RETURN_IF_ERROR(
          WriteFileAtomic(JoinPath(o.out_dir, system + "_active_picks.csv"), ActivePicksCsv(stream, scored, o)));
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(run.k0, EvaluateNewsite(stream, scored, o));
  FEDLOG_ASSIGN_OR_RETURN(NewsiteRow row, Evaluate(stream, "novelty, equal weights", o.detector.expected_alert_rate,
                                                   flat.fused, flat.alert, ReportWindow(o)));
  run.k0.rows.insert(run.k0.rows.begin() + 2, row);
  FEDLOG_ASSIGN_OR_RETURN(row, Evaluate(stream, "novelty, previous (session 9: valley threshold, no path term)", o.detector.expected_alert_rate,
                                        levels.fused, levels.alert, ReportWindow(o)));
  run.k0.rows.insert(run.k0.rows.begin() + 3, row);
  if (stream.unit == "line") {
    FEDLOG_ASSIGN_OR_RETURN(row, RankCutRow(stream, o));
    run.k0.rows.insert(run.k0.rows.begin() + 4, row);
    FEDLOG_ASSIGN_OR_RETURN(row, BudgetWindowRow(stream, o));
    run.k0.rows.insert(run.k0.rows.begin() + 5, row);
    FEDLOG_ASSIGN_OR_RETURN(row, RecurrenceRow(stream, o));
    run.k0.rows.insert(run.k0.rows.begin() + 6, row);
  }
  FEDLOG_RETURN_IF_ERROR(AddSessionRows(stream, scored, &flat, &levels, o, &run.k0));
  if (!o.shots.empty()) {
    FEDLOG_ASSIGN_OR_RETURN(run.kshot, EvaluateKShot(stream, scored, o));
    FEDLOG_RETURN_IF_ERROR(AddSessionLabelRows(stream, scored, o, &run.kshot));
    if (const std::string half = HalfLabelsNote(run.kshot); !half.empty()) run.kshot.notes.push_back(half);
    // The detector live detection runs with these settings: few-shot for lines; for sessions the
    // verdicts, with the label lookup when it is on.
    const std::string product = stream.unit == "line"          ? "fewshot"
                                : o.session_lookup_match > 0 ? kSessionProductMethod
                                                             : "session detector + labels";
    if (const std::string vs = ProductAgainstJaccardNote(run.kshot, product); !vs.empty()) {
      run.kshot.notes.push_back(vs);
    }
    if (o.ceiling) FEDLOG_RETURN_IF_ERROR(AddPoolCeilingRows(stream, scored, o, &run.kshot));
  }
  if (WantsFederatedArm(o.federated, system)) {
    FEDLOG_ASSIGN_OR_RETURN(run.federated, federated_arm(stream, scored, o));
  }
  return run;
}

std::string KShotJson(const KShotResult& r) {
  std::string j = "[";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const KShotRow& w = r.rows[i];
    absl::StrAppendFormat(&j,
                          "%s\n  {\"method\": \"%s\", \"strategy\": \"%s\", \"k\": %d, \"labels\": %.1f, "
                          "\"auroc\": %.6f, \"pr_auc\": %.6f, \"precision\": %.6f, \"recall\": %.6f, "
                          "\"f1\": %.6f, \"alerts_per_10k\": %.3f, \"normal_alert_rate\": %.6f, \"runs\": %d}",
                          i ? "," : "", w.method, w.strategy, w.k, w.labels, w.auroc, w.pr_auc, w.precision,
                          w.recall, w.f1, w.alerts_per_10k, w.normal_alert_rate, w.runs);
  }
  return j + "]";
}

}  // namespace

int RunEvalNewsite(const std::vector<std::string>& argv, const NewsiteArmFn& federated_arm) {
  NewsiteOptions o;
  if (absl::Status st = ParseNewsiteCommandLine(argv, &o); !st.ok()) {
    std::cerr << st.message() << "\n" << NewsiteUsage();
    return 2;
  }
  if (o.federated.enabled && !federated_arm) {
    std::cerr << "--federated: this build has no federated arm\n";
    return 2;
  }
  std::vector<NewsiteSystemResult> results;
  std::vector<std::pair<std::string, KShotResult>> kshots;
  std::string md = absl::StrFormat(
      "# fedlog eval newsite: alert budget %.3g, max alert rate %.3g\n\nk = 0: each line is scored "
      "from the lines before it; the site threshold is the budget's running quantile, raised to the "
      "alarm-backed high-score cluster(s) when the stream shows them (compact rule: the compact "
      "incident clusters at the top, and the lines below them at --rest-budget of the budget). "
      "Oracle F1 uses the test labels to "
      "pick a threshold and only measures ranking.\n%s",
      o.detector.expected_alert_rate, o.detector.max_alert_rate,
      absl::StrFormat("\nBudget window (--budget-window): %s. The last column is the highest alert "
                      "rate on normal lines over any %lld consecutive lines (the whole stream when "
                      "shorter).\n",
                      o.detector.budget_window > 0
                          ? absl::StrFormat("%lld lines (alerts below the incident clusters "
                                            "withheld past the budget's share of them)",
                                            static_cast<long long>(o.detector.budget_window))
                          : std::string("off"),
                      static_cast<long long>(ReportWindow(o))));
  std::string json_k = "", json_f = "";
  for (const std::string& system : o.systems) {
    const auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<SystemRun> r = RunSystem(system, o, o.dump, federated_arm);
    if (!r.ok()) {
      std::cerr << "eval newsite: " << system << ": " << r.status() << "\n";
      return 1;
    }
    r->k0.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cerr << absl::StrFormat("[%s] %.1fs\n", system, r->k0.seconds);
    absl::StrAppend(&md, Md(r->k0, o.detector.expected_alert_rate, ReportWindow(o)));
    if (!o.shots.empty()) {
      absl::StrAppend(&md, KShotMarkdown(system, r->k0.unit, r->kshot));
      absl::StrAppend(&json_k, json_k.empty() ? "" : ",", "\n \"", system, "\": ", KShotJson(r->kshot));
      kshots.emplace_back(system, r->kshot);
    }
    if (!r->federated.json.empty()) {
      absl::StrAppend(&md, r->federated.markdown);
      absl::StrAppend(&json_f, json_f.empty() ? "" : ",", "\n \"", system, "\": ", r->federated.json);
    }
    results.push_back(std::move(r->k0));
  }
  std::string json = Json(results, o);
  json.resize(json.size() - 2);  // "}\n"
  absl::StrAppend(&json, ", \"kshot\": {", json_k, "\n}, \"federated\": {", json_f, "\n}}\n");
  absl::Status s = MakeDirs(o.out_dir);
  if (s.ok()) s = WriteFileAtomic(JoinPath(o.out_dir, "results.json"), json);
  if (s.ok()) s = WriteFileAtomic(JoinPath(o.out_dir, "results.md"), md);
  if (s.ok() && !kshots.empty()) s = WriteFileAtomic(JoinPath(o.out_dir, "learning_curve.svg"), LearningCurveSvg(kshots));
  if (!s.ok()) {
    std::cerr << "eval newsite: " << s << "\n";
    return 1;
  }
  std::cout << md;
  return 0;
}

}  // namespace fedlog::offline
