// `fedlog eval newsite`, sessions with labels (k > 0): the session detector of the k = 0 run with
// the site's first verdicts on sessions, as live detection applies them (novelty::SessionScorer):
//   threshold  the labelled sessions' scores give the F1-best cut, shrunk towards the session
//              threshold that was in force when each test session closed
//              (novelty::LabelledThreshold, label_prior as for lines);
//   groups     a verdict on a session settles its group (the sessions of its shape,
//              novelty::SessionGroups): a normal group stops alerting, an anomalous one alerts;
//   kind       a labelled anomalous unit marks its rare templates (in at most 10^-strong_violation
//              of the pool's units, the `rare` session signal's rule, and in no labelled normal
//              unit): a test unit that has one is alerted as the same failure.
//   unit kind  NewsiteOptions::session_kind_rule (fewshot::SessionKinds, eval_newsite_session_kinds.cc):
//              a verdict labels its key's exact template counts at its session's close; with kExact
//              (the default) only such a kind labelled normal silences a session the detector
//              alerted, a normal shape group no longer does.
//   whole unit NewsiteOptions::session_whole_unit (fewshot::SessionWholeUnits): each later piece of a
//              key re-decides the key by its kind then (a withdrawal or a late alert); the product row
//              is the units' final decision, "alerts raised" what was alerted on the way, and a note
//              counts the changes and the lines to the final decision.
// Verdicts come from the random unit draws the other k > 0 methods get (RandomLabelOrder), from
// the active session selection (eval_newsite_session_select.cc), and, as an upper bound, from the
// best verdicts the pool allows. Rows go into the k > 0 table: the test part, and the whole stream
// (the pool's units as they were alerted before the labels, the rest with them); for comparison, the
// test part without group verdicts, with session 10's group rule (a normal verdict silences its
// group's broken sessions whatever it saw; NewsiteOptions::verdict_silences_broken), and, when the
// run sets another label cut, with the default one (the F1-best gap's midpoint, LabelCut::kMidpoint).
#include "tools/offline/eval_newsite_session_labels.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/novelty/session_scorer.h"

namespace fedlog::offline {
namespace {

// Templates in at most 10^-strong of the pool's units (-log10((c + 0.5) / (n + 1)) >= strong).
absl::flat_hash_set<int32_t> RareTemplates(const SessionIndex& ix, const NewsiteSplit& sp,
                                           double strong) {
  absl::flat_hash_map<int32_t, int64_t> count;
  for (size_t u : sp.pool) {
    for (int32_t t : ix.unit_templates[u]) ++count[t];
  }
  const double n = static_cast<double>(sp.pool.size());
  absl::flat_hash_set<int32_t> rare;
  for (const auto& [t, c] : count) {
    if (-std::log10((static_cast<double>(c) + 0.5) / (n + 1.0)) >= strong) rare.insert(t);
  }
  return rare;
}

KShotRow Named(KShotRow row, const std::string& method, double labels) {
  row.method = method;
  row.labels = labels;
  return row;
}

// The whole stream as a split: every unit, every line.
NewsiteSplit WholeSplit(const NewsiteStream& s, const NewsiteSplit& sp) {
  NewsiteSplit w;
  w.test = sp.pool;
  w.test.insert(w.test.end(), sp.test.begin(), sp.test.end());
  for (size_t u : w.test) w.test_y.push_back(s.y[u]);
  w.test_lines = static_cast<int64_t>(s.lines.size());
  return w;
}

// Whether the run's labelled session threshold is not the default midpoint (its row is then added).
bool CutIsNotMidpoint(const NewsiteOptions& o) {
  return o.detector.session.label_threshold && o.detector.session.label_cut != novelty::LabelCut::kMidpoint;
}

// The rows of one set of verdicts: with groups on the test part and the whole stream, and (for
// comparison) without groups, as session 8 applied labels, and with the default label cut when the
// run sets another.
absl::Status VerdictRows(const NewsiteStream& s, const ScoredStream& sc, const SessionIndex& ix,
                         const NewsiteSplit& sp, const NewsiteOptions& o, const SessionVerdicts& v,
                         std::vector<KShotRow>* rows, WholeUnitStats* whole_stats = nullptr) {
  const double n = static_cast<double>(v.sessions.size());
  std::vector<double> score;
  std::vector<int> alert;
  WholeUnitStats stats;
  DecideUnits(sc, ix, v, o, /*groups=*/true, sp.test, &score, &alert, nullptr, &stats);
  FEDLOG_ASSIGN_OR_RETURN(KShotRow test, MeasureKShot(sp, score, alert));
  rows->push_back(Named(test, "session detector + labels", n));
  {
    // What an operator saw: the alerts raised (withdrawn and late ones included), and the other
    // whole-unit setting for comparison.
    FEDLOG_ASSIGN_OR_RETURN(KShotRow raised, MeasureKShot(sp, score, stats.raised));
    rows->push_back(Named(raised, "session detector + labels, alerts raised (withdrawn ones included)", n));
    NewsiteOptions other = o;
    other.session_whole_unit = !o.session_whole_unit;
    std::vector<double> os;
    std::vector<int> oa;
    DecideUnits(sc, ix, v, other, /*groups=*/true, sp.test, &os, &oa);
    FEDLOG_ASSIGN_OR_RETURN(KShotRow r, MeasureKShot(sp, os, oa));
    rows->push_back(Named(r, other.session_whole_unit ? "session detector + labels, whole-unit decisions on"
                                                      : "session detector + labels, whole-unit decisions off",
                          n));
    if (whole_stats != nullptr) *whole_stats = o.session_whole_unit ? std::move(stats) : WholeUnitStats{};
    if (whole_stats != nullptr && !o.session_whole_unit) {
      DecideUnits(sc, ix, v, other, /*groups=*/true, sp.test, &os, &oa, nullptr, whole_stats);
    }
  }
  // The whole stream: the pool's units as the k = 0 detector alerted them (the labels came after).
  const NewsiteSplit whole = WholeSplit(s, sp);
  std::vector<double> ws;
  std::vector<int> wa;
  for (size_t u : sp.pool) {
    ws.push_back(ix.unit_score[u]);
    wa.push_back(sc.unit_session_alert[u]);
  }
  ws.insert(ws.end(), score.begin(), score.end());
  wa.insert(wa.end(), alert.begin(), alert.end());
  FEDLOG_ASSIGN_OR_RETURN(KShotRow w, MeasureKShot(whole, ws, wa));
  rows->push_back(Named(w, "session detector + labels [whole stream]", n));
  DecideUnits(sc, ix, v, o, /*groups=*/false, sp.test, &score, &alert);
  FEDLOG_ASSIGN_OR_RETURN(KShotRow old, MeasureKShot(sp, score, alert));
  rows->push_back(Named(old, "session detector + labels, no group verdicts", n));
  // Session 10's groups: a normal verdict silences the group's broken sessions whatever it saw.
  NewsiteOptions s10 = o;
  s10.verdict_silences_broken = true;
  DecideUnits(sc, ix, v, s10, /*groups=*/true, sp.test, &score, &alert);
  FEDLOG_ASSIGN_OR_RETURN(KShotRow any, MeasureKShot(sp, score, alert));
  rows->push_back(Named(any, "session detector + labels, verdicts silence broken (session 10)", n));
  // The default labelled threshold (as in session 16): the F1-best gap's midpoint, for comparison.
  if (CutIsNotMidpoint(o)) {
    NewsiteOptions mid = o;
    mid.detector.session.label_cut = novelty::LabelCut::kMidpoint;
    DecideUnits(sc, ix, v, mid, /*groups=*/true, sp.test, &score, &alert);
    FEDLOG_ASSIGN_OR_RETURN(KShotRow m, MeasureKShot(sp, score, alert));
    rows->push_back(Named(m, "session detector + labels, midpoint cut (the default)", n));
  }
  FEDLOG_RETURN_IF_ERROR(KindRows(sc, ix, sp, o, v, rows));
  if (o.session_lookup_match > 0) {
    FEDLOG_ASSIGN_OR_RETURN(KShotRow product, LookupRow(sc, ix, sp, o, v));
    rows->push_back(product);
  }
  return absl::OkStatus();
}

// The session detector at k = 0 on the test units, and on the whole stream.
absl::Status ZeroRows(const NewsiteStream& s, const ScoredStream& sc, const SessionIndex& ix,
                      const NewsiteSplit& sp, KShotResult* out) {
  for (const bool whole : {false, true}) {
    const NewsiteSplit split = whole ? WholeSplit(s, sp) : sp;
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureTestUnits(split, ix.unit_score, sc.unit_session_alert));
    row.method = whole ? "session detector (k=0, site threshold) [whole stream]"
                       : "session detector (k=0, site threshold)";
    row.strategy = "-";
    row.runs = 1;
    out->rows.insert(out->rows.begin() + (whole ? 1 : 0), row);
  }
  return absl::OkStatus();
}

// The label pool and the measured units: after label_part and, when tuning inside the pool, before
// test_end; or the blocks of pool_blocks (KShotSplit).
NewsiteSplit MeasuredSplit(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o) {
  NewsiteSplit sp = KShotSplit(s, sc, o);
  if (o.test_end >= 1 || o.pool_blocks > 0) return sp;
  const int64_t end = static_cast<int64_t>(o.test_end * static_cast<double>(s.lines.size()));
  NewsiteSplit cut;
  cut.pool = sp.pool;
  for (size_t u : sp.test) {
    if (sc.unit_first_line[u] >= end) continue;
    cut.test.push_back(u);
    cut.test_y.push_back(s.y[u]);
  }
  cut.test_lines = end - static_cast<int64_t>(o.label_part * static_cast<double>(s.lines.size()));
  return cut;
}

// Adds `from`'s counts and latencies to `to`.
void AddWholeStats(const WholeUnitStats& from, WholeUnitStats* to) {
  to->late += from.late;
  to->withdrawn += from.withdrawn;
  to->union_withdrawn += from.union_withdrawn;
  to->changed_latency.insert(to->changed_latency.end(), from.changed_latency.begin(), from.changed_latency.end());
}

// "active k=10: 0 late / 3 withdrawn / 1 union-withdrawn, 4 units changed, 812 / 2040 lines".
std::string WholeStatsCell(const char* strategy, int k, int runs, WholeUnitStats stats) {
  std::string cell = absl::StrFormat("%s k=%d: %lld late / %lld withdrawn / %lld union-withdrawn", strategy,
                                     k, static_cast<long long>(stats.late),
                                     static_cast<long long>(stats.withdrawn),
                                     static_cast<long long>(stats.union_withdrawn));
  std::vector<int64_t>& l = stats.changed_latency;
  if (l.empty()) return cell;
  std::sort(l.begin(), l.end());
  const auto at = [&](double q) {
    return static_cast<long long>(l[std::min(l.size() - 1, static_cast<size_t>(q * static_cast<double>(l.size())))]);
  };
  absl::StrAppendFormat(&cell, ", %zu units changed%s, %lld / %lld lines", l.size(),
                        runs > 1 ? absl::StrFormat(" in %d runs", runs) : std::string(), at(0.5), at(0.95));
  return cell;
}

}  // namespace

bool VerdictSawBroken(const ScoredStream& sc, size_t j, const NewsiteOptions& o) {
  return sc.sessions[j].broken || o.verdict_silences_broken;
}

SessionIndex IndexSessions(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& sp,
                           const NewsiteOptions& o) {
  SessionIndex ix;
  const size_t nu = s.y.size();
  ix.unit_sessions.assign(nu, {});
  ix.unit_templates.assign(nu, {});
  ix.unit_score.assign(nu, 0.0);
  std::vector<uint8_t> in_pool(nu, 0);
  for (size_t u : sp.pool) in_pool[u] = 1;
  std::vector<size_t> top(nu, SIZE_MAX);  // per unit, its highest-scoring session
  for (size_t k = 0; k < sc.sessions.size(); ++k) {
    const novelty::SessionScore& x = sc.sessions[k];
    ix.group.push_back(novelty::SessionGroupKey(o.detector.session.group_by, x.shape, x.kinds));
    bool pool = !sc.session_units[k].empty();
    for (int32_t u32 : sc.session_units[k]) {
      const size_t u = static_cast<size_t>(u32);
      ix.unit_sessions[u].push_back(k);
      if (top[u] == SIZE_MAX || x.score > sc.sessions[top[u]].score) top[u] = k;
      ix.unit_score[u] = std::max(ix.unit_score[u], x.score);
      pool = pool && in_pool[u];
    }
    if (pool) ix.pool_sessions.push_back(k);
  }
  ix.answer.assign(sc.sessions.size(), 0);
  for (size_t k = 0; k < sc.sessions.size(); ++k) {
    for (int32_t u32 : sc.session_units[k]) {
      const size_t u = static_cast<size_t>(u32);
      if (s.y[u] == 0) continue;
      if (top[u] == k) {
        ix.answer[k] = 1;
      } else if (ix.answer[k] != 1) {
        ix.answer[k] = -1;
      }
    }
  }
  for (size_t i = 0; i < s.lines.size(); ++i) {
    for (int32_t u : s.units[i]) ix.unit_templates[static_cast<size_t>(u)].push_back(sc.template_id[i]);
  }
  for (auto& t : ix.unit_templates) {
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
  }
  ix.rare = RareTemplates(ix, sp, o.detector.session.strong_violation);
  IndexKinds(sc, &ix);
  return ix;
}

SessionVerdicts VerdictsOfUnits(const SessionIndex& ix, const std::vector<size_t>& units,
                                const std::vector<int>& y) {
  SessionVerdicts v;
  for (size_t i = 0; i < units.size(); ++i) {
    for (size_t j : ix.unit_sessions[units[i]]) {
      if (y[i] > 0 && ix.answer[j] != 1) continue;  // the anomalous unit's failing session only
      v.sessions.push_back(j);
      v.y.push_back(y[i] > 0 ? 1 : 0);
    }
  }
  return v;
}

absl::Status AddSessionLabelRows(const NewsiteStream& s, const ScoredStream& sc,
                                 const NewsiteOptions& o, KShotResult* out) {
  if (sc.sessions.empty() || s.unit == "line" || out->rows.empty()) return absl::OkStatus();
  const NewsiteSplit sp = MeasuredSplit(s, sc, o);
  const SessionIndex ix = IndexSessions(s, sc, sp, o);
  FEDLOG_RETURN_IF_ERROR(ZeroRows(s, sc, ix, sp, out));
  SessionVerdicts active, best_all;
  std::vector<size_t> active_units;  // the units' active order, for Jaccard on the measured part
  const bool measured_jaccard = o.test_end < 1 && o.pool_blocks == 0;
  if (!o.shots.empty()) {
    const int max_k = *std::max_element(o.shots.begin(), o.shots.end());
    if (o.strategy != "random") active = ActiveSessionVerdicts(sc, ix, sp, o, static_cast<size_t>(2 * max_k));
    if (o.strategy != "random" && measured_jaccard) {
      active_units = ActiveLabelOrder(s, sc, sp, o, static_cast<size_t>(2 * max_k));
    }
    best_all = BestPoolVerdicts(sc, ix, sp, o, static_cast<size_t>(2 * max_k));  // greedy: nested
  }
  auto first = [](const SessionVerdicts& all, size_t n) {
    SessionVerdicts v;
    n = std::min(n, all.sessions.size());
    v.sessions.assign(all.sessions.begin(), all.sessions.begin() + static_cast<std::ptrdiff_t>(n));
    v.y.assign(all.y.begin(), all.y.begin() + static_cast<std::ptrdiff_t>(n));
    return v;
  };
  std::string whole_note;  // per (strategy, k): late alerts, withdrawals and their latency
  for (int k : o.shots) {
    WholeUnitStats random_whole;  // summed over the seeds
    if (o.strategy != "active") {
      std::vector<std::vector<KShotRow>> runs;
      for (int r = 0; r < o.seeds; ++r) {
        const auto order = RandomLabelOrder(s, sp, o.seed + static_cast<uint64_t>(r));
        std::vector<size_t> units;
        std::vector<int> y;
        for (int c = 0; c < 2; ++c) {
          const auto& pool = order[static_cast<size_t>(c)];
          for (size_t i = 0; i < std::min(pool.size(), static_cast<size_t>(k)); ++i) {
            units.push_back(pool[i]);
            y.push_back(c);
          }
        }
        std::vector<KShotRow> rows;
        WholeUnitStats stats;
        FEDLOG_RETURN_IF_ERROR(VerdictRows(s, sc, ix, sp, o, VerdictsOfUnits(ix, units, y), &rows, &stats));
        AddWholeStats(stats, &random_whole);
        if (measured_jaccard) {
          FEDLOG_ASSIGN_OR_RETURN(KShotRow j, MeasuredJaccardRow(sc, sp, units, y));
          rows.push_back(j);
        }
        for (KShotRow& r0 : rows) r0.labels = static_cast<double>(units.size());
        runs.push_back(rows);
      }
      AppendKShotMedians(runs, k, "random", &out->rows);
      absl::StrAppend(&whole_note, whole_note.empty() ? "" : "; ", WholeStatsCell("random", k, o.seeds, random_whole));
    }
    const size_t budget = static_cast<size_t>(2 * k);
    if (o.strategy != "random") {
      std::vector<KShotRow> rows;
      WholeUnitStats stats;
      FEDLOG_RETURN_IF_ERROR(VerdictRows(s, sc, ix, sp, o, first(active, budget), &rows, &stats));
      absl::StrAppend(&whole_note, whole_note.empty() ? "" : "; ", WholeStatsCell("active", k, 1, stats));
      if (measured_jaccard) {
        const std::vector<size_t> units(active_units.begin(),
                                        active_units.begin() + static_cast<std::ptrdiff_t>(
                                                                   std::min(budget, active_units.size())));
        std::vector<int> y;
        for (size_t u : units) y.push_back(s.y[u] > 0 ? 1 : 0);
        FEDLOG_ASSIGN_OR_RETURN(KShotRow j, MeasuredJaccardRow(sc, sp, units, y));
        rows.push_back(j);
      }
      AppendKShotMedians({rows}, k, "active", &out->rows);
    }
    std::vector<KShotRow> best;
    FEDLOG_RETURN_IF_ERROR(VerdictRows(s, sc, ix, sp, o, first(best_all, budget), &best));
    best.resize(1);
    best[0].method = "session detector + the best labels of the pool (oracle)";
    AppendKShotMedians({best}, k, "oracle", &out->rows);
  }
  if (!whole_note.empty()) {
    out->notes.push_back(absl::StrCat(
        "whole-unit decisions (", o.session_whole_unit ? "on: the product row is the final decision" :
        "off; what they would do, the row \"whole-unit decisions on\"",
        "; late alerts / withdrawals by the whole unit's kind / withdrawals because the key's union no longer "
        "alerts (union scoring) on the measured units, and lines from a unit's first line to its final "
        "decision, median / p95, over the units whose decision they changed; random: summed over the seeds): ",
        whole_note));
  }
  out->notes.push_back(absl::StrFormat(
      "session detector + labels: verdicts on sessions (random: a labelled normal unit's sessions, "
      "an anomalous unit's highest-scoring one; active: one session per shape group, "
      "common/active/session_selector.h). A verdict settles its group (%s), moves the session "
      "threshold (F1-best cut shrunk by n / (n + label_prior)), and a labelled anomalous unit's "
      "rare templates alert the units that have one. [whole stream]: the pool's units as alerted "
      "before the labels. The oracle row picks the pool verdicts WITH the test labels (an upper "
      "bound for any selection of 2k sessions).",
      o.detector.session.group_by == novelty::GroupBy::kShape ? "same templates and counts"
                                                               : "same set of templates"));
  return absl::OkStatus();
}

}  // namespace fedlog::offline
