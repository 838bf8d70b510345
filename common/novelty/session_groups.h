// SessionGroups: operator verdicts on groups of sessions that look alike, and what they do to a
// session's alert. A group is the sessions of one shape (session_shape.h: ClosedSession::shape,
// the templates with their counts capped, or ::kinds, the set of templates alone; GroupBy picks).
// A verdict on one session is a verdict on its group:
//   normal     the group's sessions raise no alert (a replication or a paused write the operator
//              called normal stops alarming at once), except a session that broke a near-certain
//              count relation (SessionScore::broken) when no normal verdict of the group was given
//              on a broken session, or when `keep_broken` is set: a verdict covers what the
//              operator saw. A lone WARN line called normal while its template was too new to have
//              relations says nothing about the same line once it breaks the relations learnt
//              since (on HDFS such sessions alert for failed blocks: docs/EVALUATION.md
//              "Session 11");
//   anomalous  the group's sessions alert even below the session threshold (a failure the
//              operator confirmed is reported each time it recurs).
// A group labelled both ways keeps the detector's own decision. The labels also move the session
// threshold (SessionScorer::AddLabel); this class holds the group verdicts only.
// Used by SessionScorer (live detection, client/detect/label_free.h) and `fedlog eval newsite`.
// Thread-compatible: one instance per SessionScorer.
#ifndef FEDLOG_COMMON_NOVELTY_SESSION_GROUPS_H_
#define FEDLOG_COMMON_NOVELTY_SESSION_GROUPS_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"

namespace fedlog::novelty {

// What makes two sessions one group.
enum class GroupBy {
  kShape,  // the same templates with the same counts (capped at ShapeOptions::signature_count_cap)
  kKinds,  // the same set of templates, whatever their counts
};

// The group key of a session with shape keys `shape` and `kinds` (ClosedSession, SessionScore).
inline uint64_t SessionGroupKey(GroupBy by, uint64_t shape, uint64_t kinds) {
  return by == GroupBy::kShape ? shape : kinds;
}

// How a group verdict changes a session's alert.
enum class GroupDecision { kNone, kSuppressed, kRaised };

class SessionGroups {
 public:
  // A verdict (1 anomalous, 0 normal) on a session of group `group`; `broken`: that session broke
  // a near-certain relation (SessionScore::broken), so a normal verdict also covers the group's
  // broken sessions.
  void Add(uint64_t group, int label, bool broken = false);
  void Clear() { verdicts_.clear(); }
  // -1: no verdict (or both), 0 normal, 1 anomalous.
  int Label(uint64_t group) const;
  // What the group's verdict does to a session of `group` whose detector said `alert`; `broken`:
  // it broke a near-certain relation (SessionScore::broken), kept alerting unless a normal verdict
  // of the group was given on a broken session, and always when `keep_broken`.
  GroupDecision Decide(uint64_t group, bool alert, bool broken, bool keep_broken) const;
  size_t groups() const { return verdicts_.size(); }

 private:
  // bit 0: a normal verdict, bit 1: anomalous, bit 2: a normal verdict on a broken session.
  absl::flat_hash_map<uint64_t, uint8_t> verdicts_;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SESSION_GROUPS_H_
