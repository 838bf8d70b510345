// `fedlog eval newsite`, sessions: the session detector's rows (novelty::SessionScorer: each session
// scored when it went quiet, a unit's score the maximum over its sessions) and the DeepLog-style
// baseline, a windowed n-gram next-event model with DeepLog's top-g rule trained on the normal
// sessions of the stream's first part (labels used, as in DeepLog's protocol) and run on the rest.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/threshold.h"
#include "common/novelty/ngram.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

// Per-unit scores and alerts of one method on the units in `keep` (all units when empty).
struct UnitScores {
  std::vector<double> score;
  std::vector<int> alert;        // empty: ranking only
  int64_t alerts = 0;            // alerts raised (sessions), for the rates
  int64_t normal_alerts = 0;     // of those, on sessions of normal units
};

absl::StatusOr<NewsiteRow> UnitRow(const NewsiteStream& s, const std::string& method, double budget,
                                   const std::vector<size_t>& keep, const UnitScores& m,
                                   int64_t lines, int64_t normal_lines) {
  std::vector<int> y;
  std::vector<double> score;
  std::vector<int> alert;
  for (size_t u : keep) {
    y.push_back(s.y[u]);
    score.push_back(m.score[u]);
    if (!m.alert.empty()) alert.push_back(m.alert[u]);
  }
  NewsiteRow row;
  row.method = method;
  row.budget = budget;
  row.ranking_only = m.alert.empty();
  FEDLOG_ASSIGN_OR_RETURN(row.auroc, eval::Auroc(y, score));
  FEDLOG_ASSIGN_OR_RETURN(row.pr_auc, eval::AveragePrecision(y, score));
  FEDLOG_ASSIGN_OR_RETURN(eval::ThresholdChoice oracle, eval::SelectThresholdMaxF1(y, score));
  row.oracle_f1 = oracle.f1;
  if (alert.empty()) return row;
  FEDLOG_ASSIGN_OR_RETURN(eval::ConfusionMatrix cm, eval::ComputeConfusion(y, alert));
  row.precision = eval::Precision(cm);
  row.recall = eval::Recall(cm);
  row.f1 = eval::F1(cm);
  row.alerts_per_10k = 1e4 * static_cast<double>(m.alerts) / static_cast<double>(std::max<int64_t>(lines, 1));
  row.normal_line_alert_rate =
      static_cast<double>(m.normal_alerts) / static_cast<double>(std::max<int64_t>(normal_lines, 1));
  row.normal_unit_alert_rate =
      static_cast<double>(cm.fp) / static_cast<double>(std::max<int64_t>(cm.fp + cm.tn, 1));
  return row;
}

bool AllNormal(const NewsiteStream& s, const std::vector<int32_t>& units) {
  for (int32_t u : units) {
    if (s.y[static_cast<size_t>(u)] != 0) return false;
  }
  return !units.empty();
}

UnitScores SessionDetector(const NewsiteStream& s, const ScoredStream& sc,
                           const std::vector<uint8_t>& in_part) {
  UnitScores m;
  m.score.assign(s.y.size(), 0.0);
  m.alert.assign(s.y.size(), 0);
  for (size_t u = 0; u < s.y.size(); ++u) {
    m.score[u] = std::max(0.0, sc.unit_session_score[u]);
    m.alert[u] = sc.unit_session_alert[u];
  }
  for (size_t k = 0; k < sc.sessions.size(); ++k) {
    if (!sc.sessions[k].alert) continue;
    bool counted = false;
    for (int32_t u : sc.session_units[k]) counted = counted || in_part[static_cast<size_t>(u)];
    if (!counted) continue;
    ++m.alerts;
    m.normal_alerts += AllNormal(s, sc.session_units[k]) ? 1 : 0;
  }
  return m;
}

// Ranking only: how many sessions each unit had (a Hadoop application's containers). A fault (a
// machine down, a network cut, a full disk) fails task attempts, and each new attempt runs in a new
// container, so a faulty application tends to run more containers than a normal one.
UnitScores SessionsPerUnit(const NewsiteStream& s, const ScoredStream& sc) {
  UnitScores m;
  m.score.assign(s.y.size(), 0.0);
  for (const std::vector<int32_t>& units : sc.session_units) {
    for (int32_t u : units) m.score[static_cast<size_t>(u)] += 1.0;
  }
  return m;
}

// Lines of the stream, and of normal units, among the lines of units flagged in `in_part`.
void CountLines(const NewsiteStream& s, const std::vector<uint8_t>& in_part, int64_t* lines,
                int64_t* normal_lines) {
  *lines = 0;
  *normal_lines = 0;
  for (size_t i = 0; i < s.lines.size(); ++i) {
    bool in = false, normal = !s.units[i].empty();
    for (int32_t u : s.units[i]) {
      in = in || in_part[static_cast<size_t>(u)];
      normal = normal && s.y[static_cast<size_t>(u)] == 0;
    }
    if (!in) continue;
    ++*lines;
    *normal_lines += normal ? 1 : 0;
  }
}

// DeepLog-style: learn the transitions of normal sessions whose units start before `cut`, then
// judge every next event of the units starting after it (a unit alerts on any top-g miss; its
// ranking score is its largest surprise plus the number of misses).
UnitScores DeepLogStyle(const NewsiteStream& s, const ScoredStream& sc, int64_t cut,
                        const novelty::NgramOptions& o, int64_t* trained_sessions) {
  novelty::NgramModel model(o);
  UnitScores m;
  m.score.assign(s.y.size(), 0.0);
  m.alert.assign(s.y.size(), 0);
  absl::flat_hash_set<uint64_t> trained;
  for (size_t i = 0; i < s.lines.size(); ++i) {
    if (!sc.has_session[i] || s.units[i].empty()) continue;
    bool train = true, test = false;
    for (int32_t u32 : s.units[i]) {
      const size_t u = static_cast<size_t>(u32);
      const bool before = sc.unit_first_line[u] >= 0 && sc.unit_first_line[u] < cut;
      train = train && before && s.y[u] == 0;
      test = test || !before;
    }
    if (train) {
      model.Observe(sc.session[i], sc.template_id[i]);
      trained.insert(sc.session[i]);
      continue;
    }
    if (!test) continue;
    const novelty::NextEvent e = model.Score(sc.session[i], sc.template_id[i]);
    model.Advance(sc.session[i], sc.template_id[i]);
    if (!e.miss) continue;
    for (int32_t u32 : s.units[i]) {
      const size_t u = static_cast<size_t>(u32);
      if (sc.unit_first_line[u] < cut) continue;
      m.alert[u] = 1;
      m.score[u] += 1.0 + e.surprise;
    }
  }
  for (size_t u = 0; u < s.y.size(); ++u) {
    m.alerts += m.alert[u];
    m.normal_alerts += m.alert[u] && s.y[u] == 0 ? 1 : 0;
  }
  *trained_sessions = static_cast<int64_t>(trained.size());
  return m;
}

}  // namespace

absl::Status AddSessionRows(const NewsiteStream& stream, const ScoredStream& scored,
                            const ScoredStream* equal, const ScoredStream* no_wait,
                            const NewsiteOptions& options, NewsiteSystemResult* result) {
  // Line protocols (BGL) are measured per line: a session score there would alert a whole host.
  if (scored.sessions.empty() || stream.unit == "line") return absl::OkStatus();
  const double budget = options.detector.expected_alert_rate;
  const size_t nu = stream.y.size();
  std::vector<size_t> all, test;
  std::vector<uint8_t> in_all(nu, 1), in_test(nu, 0);
  const int64_t cut = static_cast<int64_t>(options.label_part * static_cast<double>(stream.lines.size()));
  for (size_t u = 0; u < nu; ++u) {
    if (scored.unit_first_line[u] < 0) continue;
    all.push_back(u);
    if (scored.unit_first_line[u] >= cut) {
      test.push_back(u);
      in_test[u] = 1;
    }
  }
  int64_t lines = 0, normal_lines = 0, test_lines = 0, test_normal_lines = 0;
  CountLines(stream, in_all, &lines, &normal_lines);
  CountLines(stream, in_test, &test_lines, &test_normal_lines);
  auto add = [&](const std::string& method, double b, const std::vector<size_t>& keep,
                 const UnitScores& m, int64_t l, int64_t nl) -> absl::Status {
    FEDLOG_ASSIGN_OR_RETURN(NewsiteRow row, UnitRow(stream, method, b, keep, m, l, nl));
    result->rows.push_back(row);
    return absl::OkStatus();
  };
  const UnitScores det = SessionDetector(stream, scored, in_all);
  FEDLOG_RETURN_IF_ERROR(add("session detector (k=0, site threshold)", budget, all, det, lines, normal_lines));
  if (equal != nullptr && !equal->sessions.empty()) {
    FEDLOG_RETURN_IF_ERROR(add("session detector, equal weights", budget, all,
                               SessionDetector(stream, *equal, in_all), lines, normal_lines));
  }
  if (no_wait != nullptr && !no_wait->sessions.empty()) {
    FEDLOG_RETURN_IF_ERROR(add("session detector, no incomplete wait (session 9)", budget, all,
                               SessionDetector(stream, *no_wait, in_all), lines, normal_lines));
  }
  for (int k = 0; k < novelty::kNumSessionSignals; ++k) {
    UnitScores one;
    one.score = scored.unit_session_signal[static_cast<size_t>(k)];
    FEDLOG_RETURN_IF_ERROR(add("session signal: " + std::string(novelty::SessionSignalName(k)), 0,
                               all, one, lines, normal_lines));
  }
  const UnitScores per_unit = SessionsPerUnit(stream, scored);
  FEDLOG_RETURN_IF_ERROR(add("unit signal: sessions per unit", 0, all, per_unit, lines, normal_lines));
  result->notes.push_back(absl::StrFormat(
      "%zu sessions scored as they went quiet (a unit's session score is the maximum over its "
      "sessions); session threshold at the end: %s%s",
      scored.sessions.size(), scored.session_stage,
      scored.session_adapted_rate > 0
          ? absl::StrFormat(" (alert rate raised to %.3f of sessions)", scored.session_adapted_rate)
          : std::string()));
  // The DeepLog-style baseline and the detector on the same (test) units.
  novelty::NgramOptions ngram;  // h = 10, g = 9: DeepLog's published setting
  FEDLOG_RETURN_IF_ERROR(ngram.Validate());
  int64_t trained = 0;
  const UnitScores deeplog = DeepLogStyle(stream, scored, cut, ngram, &trained);
  FEDLOG_RETURN_IF_ERROR(add(absl::StrFormat("deeplog-style n-gram (h=%d, g=%d) [test part]",
                                             ngram.history, ngram.top_g),
                             0, test, deeplog, test_lines, test_normal_lines));
  FEDLOG_RETURN_IF_ERROR(add("session detector (k=0, site threshold) [test part]", budget, test,
                             SessionDetector(stream, scored, in_test), test_lines, test_normal_lines));
  FEDLOG_RETURN_IF_ERROR(add("unit signal: sessions per unit [test part]", 0, test, per_unit, test_lines,
                             test_normal_lines));
  if (no_wait != nullptr && !no_wait->sessions.empty()) {
    FEDLOG_RETURN_IF_ERROR(add("session detector, no incomplete wait (session 9) [test part]", budget, test,
                               SessionDetector(stream, *no_wait, in_test), test_lines, test_normal_lines));
  }
  result->notes.push_back(absl::StrFormat(
      "[test part]: the %zu %ss that start after the first %.0f%% of the lines; the deeplog-style "
      "baseline learnt next events from the %lld NORMAL sessions of the units before it (it uses "
      "their labels; min support %lld per context, backing off to shorter contexts)",
      test.size(), stream.unit, 100 * options.label_part, static_cast<long long>(trained),
      static_cast<long long>(ngram.min_support)));
  return absl::OkStatus();
}

}  // namespace fedlog::offline
