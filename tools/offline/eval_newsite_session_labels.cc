// `fedlog eval newsite`, sessions with labels (k > 0): the session detector of the k = 0 run with
// the site's first labels, as live detection uses them (novelty::SessionScorer::AddLabel):
//   threshold  the labelled units' session scores give the F1-best cut, shrunk towards the session
//              threshold that was in force when each test session closed
//              (novelty::LabelledThreshold, label_prior as for lines);
//   kind       a labelled anomalous unit marks its rare templates (in at most 10^-strong_violation
//   of
//              the units before the cut, the `rare` session signal's rule, and in no labelled
//              normal unit): a test unit that has one is alerted as the same failure.
// The labels are the draws the other k > 0 methods get (RandomLabelOrder, ActiveLabelOrder), and
// the rows go into the same table, beside the session detector at k = 0 on the same test units.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/base/status_macros.h"
#include "common/novelty/session_scorer.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

// Per unit: its sessions (indices into ScoredStream::sessions) and its templates.
struct UnitSessions {
  std::vector<std::vector<size_t>> sessions;
  std::vector<std::vector<int32_t>> templates;  // sorted, distinct
  std::vector<double> score;                    // max session score (0: none)
};

UnitSessions IndexUnits(const NewsiteStream& s, const ScoredStream& sc) {
  UnitSessions out;
  const size_t nu = s.y.size();
  out.sessions.assign(nu, {});
  out.templates.assign(nu, {});
  out.score.assign(nu, 0.0);
  for (size_t k = 0; k < sc.sessions.size(); ++k) {
    for (int32_t u : sc.session_units[k]) {
      out.sessions[static_cast<size_t>(u)].push_back(k);
      double& m = out.score[static_cast<size_t>(u)];
      m = std::max(m, sc.sessions[k].score);
    }
  }
  for (size_t i = 0; i < s.lines.size(); ++i) {
    for (int32_t u : s.units[i]) out.templates[static_cast<size_t>(u)].push_back(sc.template_id[i]);
  }
  for (auto& t : out.templates) {
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
  }
  return out;
}

// Templates in at most 10^-strong of the pool's units (-log10((c + 0.5) / (n + 1)) >= strong).
absl::flat_hash_set<int32_t> RareTemplates(const UnitSessions& us, const NewsiteSplit& sp,
                                           double strong) {
  absl::flat_hash_map<int32_t, int64_t> count;
  for (size_t u : sp.pool) {
    for (int32_t t : us.templates[u]) ++count[t];
  }
  const double n = static_cast<double>(sp.pool.size());
  absl::flat_hash_set<int32_t> rare;
  for (const auto& [t, c] : count) {
    if (-std::log10((static_cast<double>(c) + 0.5) / (n + 1.0)) >= strong) rare.insert(t);
  }
  return rare;
}

// The session detector with labels `labelled` (units) / `y`: scores and alerts per test unit.
absl::StatusOr<KShotRow> WithLabels(const ScoredStream& sc, const UnitSessions& us,
                                    const NewsiteSplit& sp,
                                    const absl::flat_hash_set<int32_t>& rare,
                                    const std::vector<size_t>& labelled, const std::vector<int>& y,
                                    double label_prior) {
  std::vector<double> label_scores;
  absl::flat_hash_set<int32_t> anomalous_kind, normal_kind;
  for (size_t i = 0; i < labelled.size(); ++i) {
    const size_t u = labelled[i];
    label_scores.push_back(us.score[u]);
    for (int32_t t : us.templates[u]) {
      if (rare.contains(t)) (y[i] ? anomalous_kind : normal_kind).insert(t);
    }
  }
  for (int32_t t : normal_kind) anomalous_kind.erase(t);
  std::vector<double> score(sp.test.size(), 0.0);
  std::vector<int> alert(sp.test.size(), 0);
  for (size_t k = 0; k < sp.test.size(); ++k) {
    const size_t u = sp.test[k];
    bool kind = false;
    for (int32_t t : us.templates[u]) kind = kind || anomalous_kind.contains(t);
    for (size_t j : us.sessions[u]) {
      const novelty::SessionScore& x = sc.sessions[j];
      const double t = novelty::LabelledThreshold(x.threshold, label_scores, y, label_prior);
      alert[k] = alert[k] || (x.score > 0 && x.score >= t) ? 1 : 0;
    }
    // A marked kind ranks above every score (the session score is at most 7 terms of 6).
    score[k] = us.score[u] + (kind ? 100.0 : 0.0);
    alert[k] = alert[k] || kind ? 1 : 0;
  }
  FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
  row.method = "session detector + labels";
  row.labels = static_cast<double>(labelled.size());
  return row;
}

}  // namespace

absl::Status AddSessionLabelRows(const NewsiteStream& s, const ScoredStream& sc,
                                 const NewsiteOptions& o, KShotResult* out) {
  if (sc.sessions.empty() || s.unit == "line" || out->rows.empty()) return absl::OkStatus();
  const NewsiteSplit sp = MakeNewsiteSplit(s, sc, o.label_part);
  const UnitSessions us = IndexUnits(s, sc);
  const absl::flat_hash_set<int32_t> rare =
      RareTemplates(us, sp, o.detector.session.strong_violation);
  // k = 0 on the same units: the session alerts as they were raised.
  {
    std::vector<double> score;
    std::vector<int> alert;
    for (size_t u : sp.test) {
      score.push_back(us.score[u]);
      alert.push_back(sc.unit_session_alert[u]);
    }
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
    row.method = "session detector (k=0, site threshold)";
    row.strategy = "-";
    row.runs = 1;
    out->rows.insert(out->rows.begin(), row);
  }
  std::vector<size_t> active;
  if (o.strategy != "random" && !o.shots.empty()) {
    const int max_k = *std::max_element(o.shots.begin(), o.shots.end());
    active = ActiveLabelOrder(s, sc, sp, o, static_cast<size_t>(2 * max_k));
  }
  for (int k : o.shots) {
    if (o.strategy != "active") {
      std::vector<std::vector<KShotRow>> runs;
      for (int r = 0; r < o.seeds; ++r) {
        const auto order = RandomLabelOrder(s, sp, o.seed + static_cast<uint64_t>(r));
        std::vector<size_t> labelled;
        std::vector<int> y;
        for (int c = 0; c < 2; ++c) {
          const auto& pool = order[static_cast<size_t>(c)];
          for (size_t i = 0; i < std::min(pool.size(), static_cast<size_t>(k)); ++i) {
            labelled.push_back(pool[i]);
            y.push_back(c);
          }
        }
        FEDLOG_ASSIGN_OR_RETURN(KShotRow row,
                                WithLabels(sc, us, sp, rare, labelled, y, o.detector.label_prior));
        runs.push_back({row});
      }
      AppendKShotMedians(runs, k, "random", &out->rows);
    }
    if (o.strategy != "random") {
      const size_t n = std::min(active.size(), static_cast<size_t>(2 * k));
      const std::vector<size_t> labelled(active.begin(),
                                         active.begin() + static_cast<std::ptrdiff_t>(n));
      std::vector<int> y;
      for (size_t u : labelled) y.push_back(s.y[u] > 0 ? 1 : 0);
      FEDLOG_ASSIGN_OR_RETURN(KShotRow row,
                              WithLabels(sc, us, sp, rare, labelled, y, o.detector.label_prior));
      AppendKShotMedians({{row}}, k, "active", &out->rows);
    }
  }
  out->notes.push_back(
      "session detector + labels: the session threshold in force at each test session, moved by "
      "the "
      "labelled units' session scores (F1-best cut shrunk by n / (n + label_prior)); a labelled "
      "anomalous "
      "unit's rare templates (in at most 1% of the units before the cut, in no labelled normal "
      "unit) "
      "alert every test unit that has one");
  return absl::OkStatus();
}

}  // namespace fedlog::offline
