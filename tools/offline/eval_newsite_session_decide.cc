// `fedlog eval newsite`, sessions with labels: how a set of verdicts decides the measured units
// (DecideUnits, eval_newsite_session_labels.h), as live detection applies them
// (client/detect/label_free.cc): the labelled session threshold, the group verdicts, the unit-kind rule
// (fewshot::SessionKinds), the rare templates of labelled anomalous units, and with
// NewsiteOptions::session_whole_unit the whole-unit decisions of keys closed in pieces
// (fewshot::SessionWholeUnits). Without them a key's decision is any of its pieces' decisions; a
// piece that also judged the key's union (novelty::ShapeOptions::union_score) withdraws the key's
// earlier alert when the union does not alert. With them the key's union, when judged, goes to
// SessionWholeUnits too, which holds the key's one decision (as in live detection).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/fewshot/session_kinds.h"
#include "common/novelty/session_groups.h"
#include "common/novelty/session_scorer.h"
#include "tools/offline/eval_newsite_session_labels.h"

namespace fedlog::offline {
namespace {

// The verdicts' effect that does not depend on the session judged.
struct Applied {
  std::vector<double> scores;  // labelled sessions' scores, for the threshold
  std::vector<int> y;
  novelty::SessionGroups groups;
  absl::flat_hash_set<int32_t> anomalous_kind;
  fewshot::SessionKinds kinds{1};  // labels only (unit-kind verdicts)
};

Applied Apply(const ScoredStream& sc, const SessionIndex& ix, const SessionVerdicts& v,
              const NewsiteOptions& o) {
  Applied a;
  absl::flat_hash_set<int32_t> normal_kind;
  for (size_t i = 0; i < v.sessions.size(); ++i) {
    const size_t j = v.sessions[i];
    a.scores.push_back(sc.sessions[j].score);
    a.y.push_back(v.y[i]);
    a.groups.Add(ix.group[j], v.y[i], VerdictSawBroken(sc, j, o));
    a.kinds.Label(KindOfSession(ix, j, o), v.y[i]);
    for (int32_t u : sc.session_units[j]) {
      for (int32_t t : ix.unit_templates[static_cast<size_t>(u)]) {
        if (ix.rare.contains(t)) (v.y[i] ? a.anomalous_kind : normal_kind).insert(t);
      }
    }
  }
  for (int32_t t : normal_kind) a.anomalous_kind.erase(t);
  return a;
}

// One key's pieces under whole-unit decisions (DecideUnits; without them only score and alert).
struct KeyDecision {
  double score = 0;       // its pieces' highest score before the kind rule (a union caps the earlier ones')
  bool detector = false;  // WholeUnitStep::detector_alert: a piece's alert before the kind rule stands
  bool alert = false;     // the key's decision now
  bool pieces_alert = false;  // some piece alerted on its own (the decision without whole units)
  size_t decided_at = SIZE_MAX;  // the session whose close last changed the key's decision
};

// A key's unit score, as DecideUnits scores a session: 0 when the kinds silenced its alert, +100
// when they raised one.
double KeyScore(const KeyDecision& d) {
  if (d.detector && !d.alert) return 0;
  return d.alert && !d.detector ? d.score + 100 : d.score;
}

}  // namespace

void DecideUnits(const ScoredStream& sc, const SessionIndex& ix, const SessionVerdicts& v,
                 const NewsiteOptions& o, bool groups, const std::vector<size_t>& units,
                 std::vector<double>* score, std::vector<int>* alert, int64_t* session_gain,
                 WholeUnitStats* whole) {
  if (session_gain != nullptr) *session_gain = 0;
  if (whole != nullptr) *whole = WholeUnitStats{};
  if (whole != nullptr) whole->raised.assign(units.size(), 0);
  const Applied a = Apply(sc, ix, v, o);
  const novelty::SessionOptions& so = o.detector.session;
  score->assign(units.size(), 0.0);
  alert->assign(units.size(), 0);
  fewshot::SessionWholeUnits pieces;
  absl::flat_hash_map<uint64_t, KeyDecision> keys;
  for (size_t k = 0; k < units.size(); ++k) {
    const size_t u = units[k];
    bool kind = false;
    for (int32_t t : ix.unit_templates[u]) kind = kind || a.anomalous_kind.contains(t);
    pieces.Clear();
    keys.clear();
    for (size_t j : ix.unit_sessions[u]) {
      const novelty::SessionScore& x = sc.sessions[j];
      const double t = so.label_threshold ? novelty::LabelledThreshold(x.threshold, a.scores, a.y,
                                                                       o.detector.label_prior, so.label_cut)
                                          : x.threshold;
      bool on = x.score > 0 && x.score >= t;
      double s = x.score;
      const novelty::GroupDecision d =
          groups ? a.groups.Decide(ix.group[j], on, x.broken, so.keep_broken) : novelty::GroupDecision::kNone;
      // kExact: a normal shape-group verdict does not silence (only the exact unit kind may).
      if (d == novelty::GroupDecision::kSuppressed && o.session_kind_rule != fewshot::KindRule::kExact) {
        on = false, s = 0;
      }
      if (d == novelty::GroupDecision::kRaised) on = true, s += 100;
      // A whole close (the key's union was judged too, ShapeOptions::union_score): whether the union
      // alerts at the same threshold.
      const bool union_on = x.union_score > 0 && x.union_score >= t;
      if (o.session_whole_unit) {
        const std::optional<bool> union_alert = x.whole ? std::optional<bool>(union_on) : std::nullopt;
        const fewshot::WholeUnitStep step = pieces.Close(x.session, on, KindOfSession(ix, j, o), a.kinds,
                                                         o.session_kind_rule, union_alert);
        KeyDecision& key = keys[x.session];
        key.score = std::max(s, x.whole ? std::min(key.score, x.union_score) : key.score);
        key.detector = step.detector_alert;
        key.alert = step.alert;
        key.pieces_alert = key.pieces_alert || step.piece_alert;
        if (step.change != fewshot::WholeUnitChange::kNone || step.piece == 1) key.decided_at = j;
        if (whole != nullptr) {
          whole->late += step.change == fewshot::WholeUnitChange::kLateAlert ? 1 : 0;
          whole->withdrawn += step.change == fewshot::WholeUnitChange::kWithdrawn ? 1 : 0;
          whole->union_withdrawn += step.change == fewshot::WholeUnitChange::kUnionWithdrawn ? 1 : 0;
          if (step.piece_alert || step.change == fewshot::WholeUnitChange::kLateAlert) whole->raised[k] = 1;
        }
        if (session_gain != nullptr && step.piece_alert) {
          *session_gain += ix.answer[j] == 1 ? 1 : ix.answer[j] == 0 ? -1 : 0;
        }
        continue;
      }
      const bool kind_on = a.kinds.Apply(o.session_kind_rule, KindOfSession(ix, j, o), on);
      if (on && !kind_on) s = 0;
      if (!on && kind_on) s += 100;
      on = kind_on;
      // At a whole close the key's earlier alert stands only while the union alerts.
      KeyDecision& key = keys[x.session];
      key.alert = on || (x.whole ? key.alert && union_on : key.alert);
      key.score = std::max(s, x.whole ? std::min(key.score, x.union_score) : key.score);
      if (session_gain != nullptr && on) *session_gain += ix.answer[j] == 1 ? 1 : ix.answer[j] == 0 ? -1 : 0;
    }
    if (!o.session_whole_unit) {
      for (const auto& [key, d] : keys) {
        (*alert)[k] = (*alert)[k] || d.alert ? 1 : 0;
        (*score)[k] = std::max((*score)[k], d.score);
      }
    }
    if (o.session_whole_unit) {
      bool own = false;  // the unit's decision from its pieces alone
      size_t last = 0;
      for (const auto& [key, d] : keys) {
        (*alert)[k] = (*alert)[k] || d.alert ? 1 : 0;
        (*score)[k] = std::max((*score)[k], KeyScore(d));
        own = own || d.pieces_alert;
        if (d.decided_at != SIZE_MAX) last = std::max(last, d.decided_at);
      }
      if (whole != nullptr && own != ((*alert)[k] != 0) && sc.unit_first_line[u] >= 0) {
        const int64_t at = last < sc.session_close_line.size() ? sc.session_close_line[last] : 0;
        whole->changed_latency.push_back(std::max<int64_t>(0, at - sc.unit_first_line[u]));
      }
    }
    // A marked kind ranks above every score (the session score is at most 7 terms of 6).
    if (kind) (*score)[k] += 100.0;
    (*alert)[k] = (*alert)[k] || kind ? 1 : 0;
    if (whole != nullptr) whole->raised[k] = whole->raised[k] || (*alert)[k] ? 1 : 0;
  }
}

}  // namespace fedlog::offline
