// `fedlog eval newsite`, sessions with labels: the pieces shared by eval_newsite_session_labels.cc
// (the rows), eval_newsite_session_decide.cc (how verdicts decide units: DecideUnits),
// eval_newsite_session_select.cc (which sessions get labelled: the active session
// selection, and the best labels the pool allows) and eval_newsite_session_lookup.cc (the product's
// detector: the verdicts plus a lookup of near-identical labelled units). Internal to
// fedlog_tools_newsite.
// Thread-compatible; one thread.
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_SESSION_LABELS_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_SESSION_LABELS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/fewshot/session_whole.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {

// The scored sessions as the labelling sees them.
struct SessionIndex {
  std::vector<std::vector<size_t>> unit_sessions;   // per unit: indices into ScoredStream::sessions
  std::vector<std::vector<int32_t>> unit_templates;  // per unit: its templates, sorted, distinct
  std::vector<double> unit_score;                    // per unit: its highest session score
  std::vector<uint64_t> group;   // per session: its group key (SessionOptions::group_by)
  // Per session, the operator's verdict when shown it: 0 when its units are normal, 1 when it is
  // the highest-scoring session of an anomalous unit (the part of the unit that failed), else -1
  // (another session of an anomalous unit: skipped, the ground truth is per unit).
  std::vector<int> answer;
  std::vector<size_t> pool_sessions;  // sessions whose units all start in the label pool
  // Per session, its key's kind (fewshot::SessionKinds) at the session's close, and at the end of
  // the stream (IndexKinds).
  std::vector<uint64_t> kind_at_close, kind_at_end;
  absl::flat_hash_set<int32_t> rare;  // templates in at most 10^-strong_violation of pool units
};

// Whether a verdict on session `j` covers its group's broken sessions (novelty::SessionGroups::Add):
// the session was broken, or NewsiteOptions::verdict_silences_broken (session 10's rule).
bool VerdictSawBroken(const ScoredStream& sc, size_t j, const NewsiteOptions& o);

SessionIndex IndexSessions(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& sp,
                           const NewsiteOptions& o);
// Fills ix->kind_at_close and kind_at_end from the lines' session keys and templates
// (eval_newsite_session_kinds.cc): a session's key's lines up to and including its own, in stream
// order.
void IndexKinds(const ScoredStream& sc, SessionIndex* ix);
// The kind a verdict on (or a decision about) session `j` uses under `o` (session_kinds_whole).
inline uint64_t KindOfSession(const SessionIndex& ix, size_t j, const NewsiteOptions& o) {
  return o.session_kinds_whole ? ix.kind_at_end[j] : ix.kind_at_close[j];
}

// Verdicts on sessions (the session and its group), in the order given.
struct SessionVerdicts {
  std::vector<size_t> sessions;
  std::vector<int> y;
};

// Random draws label units (k per class, as for every method): a normal unit's sessions are all
// normal, an anomalous unit's highest-scoring session is anomalous.
SessionVerdicts VerdictsOfUnits(const SessionIndex& ix, const std::vector<size_t>& units,
                                const std::vector<int>& y);

// Per unit of `units`: its score and alert with `v` applied to the sessions that closed (the test
// part's; the labels came before them): the labelled scores move each session's threshold
// (novelty::LabelledThreshold with SessionOptions::label_cut), with `groups` a verdict settles its
// group's sessions (novelty::SessionGroups; a normal group does not silence under
// KindRule::kExact), the verdicts' unit kinds apply by o.session_kind_rule
// (fewshot::SessionKinds::Apply), and a labelled anomalous unit's rare templates alert the units
// that have one.
// `session_gain` (may be null): alerted failing sessions (answer 1) minus alerted sessions of
// normal units (answer 0), a finer measure than F1 for the oracle's greedy steps.
// With o.session_whole_unit, each key's later pieces re-decide the key as a whole
// (fewshot::SessionWholeUnits): `alert` is the units' final decision, and `whole` (may be null) gets
// what an operator saw on the way (WholeUnitStats).
struct WholeUnitStats {
  std::vector<int> raised;     // per unit of `units`: an alert was raised for it (withdrawn or late ones included)
  int64_t late = 0, withdrawn = 0;  // late alerts and withdrawals by the whole unit's kind raised
  int64_t union_withdrawn = 0;      // withdrawals because the key's union no longer alerts
  // Per unit whose final decision differs from its pieces' own decisions: lines from its first line
  // to the line its final decision was made on.
  std::vector<int64_t> changed_latency;
};
void DecideUnits(const ScoredStream& sc, const SessionIndex& ix, const SessionVerdicts& v,
                 const NewsiteOptions& o, bool groups, const std::vector<size_t>& units,
                 std::vector<double>* score, std::vector<int>* alert,
                 int64_t* session_gain = nullptr, WholeUnitStats* whole = nullptr);

// The rows of the unit-kind rules for one set of verdicts on the test part
// (eval_newsite_session_kinds.cc): off, silence, raise, exact, and silence on whole units.
absl::Status KindRows(const ScoredStream& sc, const SessionIndex& ix, const NewsiteSplit& sp,
                      const NewsiteOptions& o, const SessionVerdicts& v, std::vector<KShotRow>* rows);

// Active session selection (common/active/session_selector.h) over the pool's sessions, in rounds
// of two, each re-ranked with the verdicts so far (thresholds and group decisions); the ground
// truth answers (SessionIndex::answer; a skip covers the group and does not count). Up to `budget`
// verdicts.
SessionVerdicts ActiveSessionVerdicts(const ScoredStream& sc, const SessionIndex& ix,
                                      const NewsiteSplit& sp, const NewsiteOptions& o, size_t budget);

// The best `budget` verdicts the pool allows, chosen WITH the test labels (a reach, not a method):
// greedily, the pool session (one per group and answer) whose verdict raises test F1 most, ties
// (a unit with two alerting sessions needs both settled) broken by the session-level gain, until
// none helps or the budget is spent. Greedy, so a bound only approximately.
SessionVerdicts BestPoolVerdicts(const ScoredStream& sc, const SessionIndex& ix,
                                 const NewsiteSplit& sp, const NewsiteOptions& o, size_t budget);

// The product's k > 0 detector for session units (eval_newsite_session_lookup.cc): the row name.
inline constexpr char kSessionProductMethod[] = "session verdicts + label lookup";

// The units of the verdicts' sessions with their class (a unit with an anomalous verdict on one of
// its sessions is anomalous), each once, in the order first seen.
void UnitsOfVerdicts(const ScoredStream& sc, const SessionVerdicts& v, std::vector<size_t>* units,
                     std::vector<int>* y);

// The label lookup over `score` / `alert` (per unit of `test`, DecideUnits' output): a unit whose
// nearest labelled unit (UnitsOfVerdicts) shares at least o.session_lookup_match of its tokens takes
// that unit's class (fewshot::FewShotDetector::Decide with match = normal_match = the bar; an exact
// or near tie between the classes decides nothing): anomalous scores 1000 + similarity, normal
// -1 - similarity. o.session_lookup_match 0: unchanged.
absl::Status LookupUnits(const ScoredStream& sc, const SessionVerdicts& v, const NewsiteOptions& o,
                         const std::vector<size_t>& test, std::vector<double>* score,
                         std::vector<int>* alert);

// The product's row (kSessionProductMethod) on sp.test: DecideUnits with groups, then LookupUnits.
absl::StatusOr<KShotRow> LookupRow(const ScoredStream& sc, const SessionIndex& ix,
                                   const NewsiteSplit& sp, const NewsiteOptions& o,
                                   const SessionVerdicts& v);

// Jaccard 1-NN with `labelled` units as support, on sp.test ("jaccard-1nn [measured part]"): the
// baseline on the measured units when they end before the stream does (--test-end).
absl::StatusOr<KShotRow> MeasuredJaccardRow(const ScoredStream& sc, const NewsiteSplit& sp,
                                            const std::vector<size_t>& labelled, const std::vector<int>& y);

// A note naming `product`, the method whose rows are the system's k > 0 detector, and comparing
// its F1 with jaccard-1nn's in every (strategy, k) cell both have: wins, ties (within 0.0005) and
// losses. Empty when there is no such cell.
std::string ProductAgainstJaccardNote(const KShotResult& r, const std::string& product);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_SESSION_LABELS_H_
