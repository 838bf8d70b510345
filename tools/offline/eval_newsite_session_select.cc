// `fedlog eval newsite`, which sessions get labelled (eval_newsite_session_labels.h): the active
// session selection as `fedlog label` makes it (common/active/session_selector.h), and the best
// verdicts the pool allows (chosen with the test labels: an upper bound, not a method).
#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/active/session_selector.h"
#include "common/eval/metrics.h"
#include "common/novelty/session_scorer.h"
#include "tools/offline/eval_newsite_session_labels.h"

namespace fedlog::offline {
namespace {

// F1 on the test units with verdicts `v` (0 when it cannot be measured), plus 1e-6 per session of
// net gain (DecideUnits), so that a step towards settling a unit counts.
double TestObjective(const ScoredStream& sc, const SessionIndex& ix, const NewsiteSplit& sp,
                     const NewsiteOptions& o, const SessionVerdicts& v) {
  std::vector<double> score;
  std::vector<int> alert;
  int64_t gain = 0;
  DecideUnits(sc, ix, v, o, /*groups=*/true, sp.test, &score, &alert, &gain);
  absl::StatusOr<eval::ConfusionMatrix> cm = eval::ComputeConfusion(sp.test_y, alert);
  return (cm.ok() ? eval::F1(*cm) : 0.0) + 1e-6 * static_cast<double>(gain);
}

// The pool's sessions as the selector sees them, with verdicts `v` applied (thresholds moved,
// groups settled), and the groups covered by a verdict or a skip.
std::vector<active::SessionInfo> PoolInfo(const ScoredStream& sc, const SessionIndex& ix,
                                          const NewsiteOptions& o, const SessionVerdicts& v,
                                          const absl::flat_hash_set<uint64_t>& skipped) {
  std::vector<double> scores;
  for (size_t j : v.sessions) scores.push_back(sc.sessions[j].score);
  novelty::SessionGroups groups;
  absl::flat_hash_set<uint64_t> covered = skipped;
  for (size_t i = 0; i < v.sessions.size(); ++i) {
    groups.Add(ix.group[v.sessions[i]], v.y[i], VerdictSawBroken(sc, v.sessions[i], o));
    covered.insert(ix.group[v.sessions[i]]);
  }
  std::vector<active::SessionInfo> info;
  info.reserve(ix.pool_sessions.size());
  for (size_t j : ix.pool_sessions) {
    const novelty::SessionScore& x = sc.sessions[j];
    active::SessionInfo in;
    in.group = ix.group[j];
    in.score = x.score;
    in.threshold = o.detector.session.label_threshold
                       ? novelty::LabelledThreshold(x.threshold, scores, v.y, o.detector.label_prior,
                                                     o.detector.session.label_cut)
                       : x.threshold;
    in.alert = x.score > 0 && x.score >= in.threshold;
    const novelty::GroupDecision d =
        groups.Decide(in.group, in.alert, x.broken, o.detector.session.keep_broken);
    if (d != novelty::GroupDecision::kNone) in.alert = d == novelty::GroupDecision::kRaised;
    // Covered (the selector skips the group): a verdict on it, or the operator skipped it.
    in.label = covered.contains(in.group) ? 0 : -1;
    info.push_back(in);
  }
  return info;
}

}  // namespace

SessionVerdicts ActiveSessionVerdicts(const ScoredStream& sc, const SessionIndex& ix,
                                      const NewsiteSplit& /*sp*/, const NewsiteOptions& o,
                                      size_t budget) {
  SessionVerdicts v;
  absl::flat_hash_set<uint64_t> skipped;
  active::SessionSelectorOptions so;
  so.seed = o.seed;
  so.alert_weight = o.session_alert_weight;
  for (size_t round = 0; v.sessions.size() < budget && round < 10 * budget + 10; ++round) {
    const std::vector<active::SessionInfo> info = PoolInfo(sc, ix, o, v, skipped);
    absl::StatusOr<std::vector<active::SessionPick>> picks =
        active::SelectSessions(info, so, std::min<size_t>(2, budget - v.sessions.size()));
    if (!picks.ok() || picks->empty()) break;
    for (const active::SessionPick& p : *picks) {
      const size_t j = ix.pool_sessions[p.session];
      if (ix.answer[j] < 0) {
        skipped.insert(p.group);
        continue;
      }
      v.sessions.push_back(j);
      v.y.push_back(ix.answer[j]);
    }
  }
  return v;
}

SessionVerdicts BestPoolVerdicts(const ScoredStream& sc, const SessionIndex& ix,
                                 const NewsiteSplit& sp, const NewsiteOptions& o, size_t budget) {
  // Candidates: one pool session per (group, answer, whether a verdict on it covers broken ones).
  absl::flat_hash_set<std::pair<uint64_t, int>> seen;
  std::vector<size_t> candidates;
  for (size_t j : ix.pool_sessions) {
    if (ix.answer[j] < 0) continue;
    const int kind = ix.answer[j] + (VerdictSawBroken(sc, j, o) ? 2 : 0);
    if (seen.insert({ix.group[j], kind}).second) candidates.push_back(j);
  }
  SessionVerdicts v;
  double f1 = TestObjective(sc, ix, sp, o, v);
  std::vector<uint8_t> used(candidates.size(), 0);
  while (v.sessions.size() < budget) {
    double best = f1;
    size_t pick = SIZE_MAX;
    for (size_t c = 0; c < candidates.size(); ++c) {
      if (used[c]) continue;
      v.sessions.push_back(candidates[c]);
      v.y.push_back(ix.answer[candidates[c]]);
      const double f = TestObjective(sc, ix, sp, o, v);
      v.sessions.pop_back();
      v.y.pop_back();
      if (f > best + 1e-12) best = f, pick = c;
    }
    if (pick == SIZE_MAX) break;
    used[pick] = 1;
    v.sessions.push_back(candidates[pick]);
    v.y.push_back(ix.answer[candidates[pick]]);
    f1 = best;
  }
  return v;
}

}  // namespace fedlog::offline
