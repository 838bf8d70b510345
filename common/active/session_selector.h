// Active selection of sessions: which of a site's sessions (HDFS blocks, containers, host streams;
// novelty::SessionScorer) an operator should judge next, so that a few verdicts settle the most
// session alerts. A verdict on a session applies to its group (the sessions of its shape,
// novelty::SessionGroups), so each group not yet covered by a verdict offers one representative,
// and groups are ranked by
//   the detector's uncertainty  how close the representative's score is to the session threshold
//                               in force when it closed (in units of the scores' median absolute
//                               deviation), as for lines (selector.h);
//   the group's alarms          the share of its sessions that alerted: a verdict on an alarming
//                               group either confirms a failure that recurs or silences a normal
//                               kind the detector keeps reporting (a replication, a paused write);
//   the group's size            a verdict on a large group settles many sessions.
// The representative is the group's most uncertain session (ties: the higher score, then the seed).
// Used by `fedlog label` (session candidates) and `fedlog eval newsite --strategy active`.
// Deterministic; the seed breaks ties only. Torch-free, gRPC-free. Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_ACTIVE_SESSION_SELECTOR_H_
#define FEDLOG_COMMON_ACTIVE_SESSION_SELECTOR_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::active {

// One session as the detector judged it.
struct SessionInfo {
  uint64_t group = 0;  // group key (novelty::SessionScore::group)
  double score = 0;    // the session score, higher = more anomalous
  // The session threshold in force when it closed; not finite (warm-up): the session is ranked
  // by its score's distance to the median threshold of the others, or 0 when none has one.
  double threshold = std::numeric_limits<double>::infinity();
  bool alert = false;  // the detector alerted on it
  int label = -1;      // a verdict already given on it: -1 none, 0 normal, 1 anomalous
};

struct SessionSelectorOptions {
  uint64_t seed = 0;          // breaks ties only
  double margin_scale = 0;    // as SelectorOptions::margin_scale (0: the scores' MAD), >= 0
  double alert_weight = 1.0;  // weight of the group's alerted share next to the uncertainty, >= 0
  // The priority is multiplied by 1 + size_weight * log(1 + size) / log(1 + sessions), >= 0.
  double size_weight = 1.0;
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

// One proposed session, best first in SelectSessions' answer.
struct SessionPick {
  size_t session = 0;        // index into the input: the group's representative
  uint64_t group = 0;
  int64_t group_size = 0;    // sessions of the group in the input
  int64_t group_alerts = 0;  // of those, alerted
  double margin = 0;         // (score - threshold) / scale of the representative
  double uncertainty = 0;    // 1 / (1 + |margin|)
  double priority = 0;
};

// Representatives of the groups that no labelled session covers, best first, at most `max_picks`
// (0 = all). InvalidArgument when the options do not Validate() or a label is not -1, 0 or 1.
absl::StatusOr<std::vector<SessionPick>> SelectSessions(const std::vector<SessionInfo>& sessions,
                                                        const SessionSelectorOptions& options,
                                                        size_t max_picks = 0);

}  // namespace fedlog::active

#endif  // FEDLOG_COMMON_ACTIVE_SESSION_SELECTOR_H_
