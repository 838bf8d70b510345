// SessionShapes: session-level novelty, judged when a session goes quiet or ends. Lines of a session
// (block id, container, host stream) are counted per template while it is open; a session closes when
// no line of it came for `quiet_ticks` (ms of log time, or lines when untimed), when it is ended
// explicitly, or at Flush. Its template-count vector is then scored against the sessions closed
// before it, and learnt:
//   invariant  count relations that usually hold, violated: for two templates a, b that the session
//              has, count(a) != count(b) although the two counts matched in most earlier sessions
//              having both; for a template a it has and b it lacks, b absent although most earlier
//              sessions with a also had b. Each violated relation scores -log((v + 0.5) / (n + 1))
//              (v violations among n earlier sessions), kept when above log 2 (the relation held
//              more often than not); the signal is their sum, so a session breaking several
//              relations at once (a write with no acknowledgement) stands out from one odd count.
//   signature  rarity of the session's signature (templates with counts capped at
//              `signature_count_cap`): -log((c + 0.5) / (n + 1)) among the n closed sessions.
//   rare       its rarest template among sessions: -log((c + 0.5) / (n + 1)) for the template
//              that c of the n closed and still open sessions had (the session itself is no
//              longer open when judged; a template first seen in this session has c = 0). An
//              exception or a replication that only broken sessions log is rare among sessions
//              even when it is frequent among lines, and a session that merely repeats a common
//              template is not. Judged from `min_support` closed sessions on; a template
//              beyond the `max_templates` cap is not counted (no evidence either way).
// An incomplete session waits longer: a timed session that lacks a template which nearly always
// came with one it has, or has two templates whose counts nearly always matched but differ (at
// most `incomplete_share` of the earlier sessions broke the relation: a write whose
// acknowledgements have not all come yet) is scored only after `incomplete_quiet_ms`
// without a line instead of `quiet_ms`, so a write that paused is judged whole rather than in
// pieces that each break the count relations; one that never completes is judged (and alerted)
// that much later. Untimed sessions, and any session once `max_open_sessions` are open, do not wait.
// Union scoring (`union_score`, detect.session_union_score): a session key is often closed in
// several pieces (an HDFS block's write, then its replication or deletion minutes later). With it on,
// the template counts and line maxima of a key's closed pieces are kept (for the last
// `max_union_keys` keys), and when a later piece closes the key's union (all of its pieces' counts
// together) is judged too, against the same relations, signatures and template counts as any piece
// (learnt from the pieces alone: the union is judged, never learnt). The piece itself is judged and
// learnt as without it. The returned ClosedSession carries the union's signals (`whole`, `piece`,
// `union_*`); the caller may withdraw the key's earlier alert when the union no longer alerts (a
// write whose first piece broke the relations only because the rest came late).
// Relations need `min_support` earlier sessions. Memory is bounded by the options: open sessions,
// templates per session, templates whose relations are tracked (pairs grow with its square), and
// distinct signatures; beyond the caps new ones are not remembered.
// Thread-compatible: one instance is used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_SESSION_SHAPE_H_
#define FEDLOG_COMMON_NOVELTY_SESSION_SHAPE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace fedlog::novelty {

struct ShapeOptions {
  int64_t quiet_ms = 300000;        // a timed session closes after 5 minutes without a line
  int64_t quiet_lines = 20000;      // an untimed session closes after this many lines of the stream
  // A timed incomplete session (see above) closes after this long without a line (ms); a value
  // not above quiet_ms: incomplete sessions do not wait longer.
  int64_t incomplete_quiet_ms = 1200000;
  double incomplete_share = 0.05;   // "nearly always": lacked by at most this share (in (0, 0.5])
  int64_t min_support = 10;         // earlier sessions a relation needs before it can be violated
  int signature_count_cap = 4;      // counts above this are equal in a signature
  size_t max_open_sessions = 100000;  // beyond it the longest-quiet session is closed early
  size_t max_session_templates = 256;  // distinct templates counted per session
  size_t max_templates = 512;       // templates whose relations are learnt
  size_t max_signatures = 200000;
  // Also judge the union of a key's pieces at its later pieces (see above). Default on: chosen on
  // HDFS's and Hadoop's tuning parts by a rule written first (docs/EVALUATION.md "Session 21: the
  // session detector judges a key's union"). Off: each piece alone.
  bool union_score = true;
  size_t max_union_keys = 65536;  // keys whose closed pieces are kept for union scoring (>= 1)
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

// What one session's lines said while it was open (maxima over its lines), kept by the caller's
// per-line signals and returned with the closed session.
struct SessionLines {
  int64_t lines = 0;
  int64_t first_tick = 0, last_tick = 0;
  bool alarm = false;            // some line carried an alarm word (HasSeverityWord)
  std::vector<double> line_max;  // per line signal, the maximum over the session's lines
};

struct ClosedSession {
  uint64_t session = 0;
  double invariant = 0;   // sum of violated relations' surprise (nats)
  double signature = 0;   // signature rarity (nats)
  double rare = 0;        // its rarest template's rarity among sessions (nats)
  int32_t rarest_template = -1;  // the template behind `rare` (-1: none judged)
  int violated = 0;       // relations violated (counted in `invariant`)
  // The session's shape, for grouping sessions (labels apply to a group, session_groups.h):
  // `shape` hashes its templates with their counts capped at signature_count_cap (the signature
  // that `signature` is the rarity of), `kinds` its set of templates alone.
  uint64_t shape = 0, kinds = 0;
  SessionLines lines;
  // Union scoring (ShapeOptions::union_score): the key's piece count with this one (1: its first
  // piece, or union scoring off); `whole`: the key's union of `piece` pieces was judged, with these
  // signals (the fields above stay this piece's).
  int piece = 1;
  bool whole = false;
  double union_invariant = 0, union_signature = 0, union_rare = 0;
  int union_violated = 0;
  SessionLines union_lines;  // lines, ticks, alarm and line maxima over all of the key's pieces
};

class SessionShapes {
 public:
  // Options must Validate(); the caller checks.
  explicit SessionShapes(const ShapeOptions& options = {});

  // Closes (into `closed`) the sessions quiet at `tick`, then adds one line of template `id` to
  // `session` (opening it) at `tick`; `timed` says whether ticks are ms or line numbers. The line's
  // signals `line_signals` are folded into the session's maxima.
  void Add(uint64_t session, int32_t id, int64_t tick, bool timed, bool alarm,
           const std::vector<double>& line_signals, std::vector<ClosedSession>* closed);
  // Closes every open session (end of stream), in order of their last line.
  void Flush(std::vector<ClosedSession>* closed);
  size_t open_sessions() const { return open_.size(); }
  int64_t closed_sessions() const { return closed_; }

 private:
  struct Open {
    absl::flat_hash_map<int32_t, int32_t> counts;
    SessionLines lines;
    bool timed = false;
  };
  void CloseQuiet(int64_t tick, bool timed, std::vector<ClosedSession>* closed);
  // Whether the quiet session `o` waits for incomplete_quiet_ms (see the header comment).
  bool Waits(const Open& o, bool full) const;
  // Some template that nearly always comes with one of `counts`' templates is absent, or two of
  // its counts that nearly always match differ.
  bool Incomplete(const absl::flat_hash_map<int32_t, int32_t>& counts) const;
  // Closes `session` if it is open and its last line came at `last` (else the entry is stale).
  void CloseIfCurrent(uint64_t session, int64_t last, std::vector<ClosedSession>* closed);
  ClosedSession Close(uint64_t session, Open open);
  // Union scoring: judges and learns the piece, merges it into its key's union (kept, bounded) and,
  // for a later piece, judges the union.
  void CloseUnion(uint64_t session, Open* open, ClosedSession* out);
  // Scores `counts` against the sessions closed so far, then learns it.
  void ScoreAndLearn(const absl::flat_hash_map<int32_t, int32_t>& counts, ClosedSession* out);
  // Scores `counts` against the sessions closed so far (no learning).
  void Judge(const absl::flat_hash_map<int32_t, int32_t>& counts, ClosedSession* out) const;
  // Learns a session with template counts `counts`.
  void LearnCounts(const absl::flat_hash_map<int32_t, int32_t>& counts);
  // The invariant signal of a session with templates `have` (sorted (id, count)) = `counts`.
  void ScoreRelations(const std::vector<std::pair<int32_t, int32_t>>& have,
                      const absl::flat_hash_map<int32_t, int32_t>& counts, ClosedSession* out) const;
  // The `rare` signal of a session with templates `have`.
  double RarestTemplate(const std::vector<std::pair<int32_t, int32_t>>& have, int32_t* rarest) const;
  void Learn(const std::vector<std::pair<int32_t, int32_t>>& have, uint64_t signature);
  uint64_t Signature(const absl::flat_hash_map<int32_t, int32_t>& counts, bool with_counts) const;
  static uint64_t PairKey(int32_t a, int32_t b);

  ShapeOptions options_;
  absl::flat_hash_map<uint64_t, Open> open_;
  std::deque<std::pair<int64_t, uint64_t>> by_last_;  // (last tick, session); stale entries skipped
  // Incomplete sessions waiting: (last tick, session), earliest first; stale entries skipped.
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                      std::greater<>>
      waiting_;
  absl::flat_hash_map<int32_t, int64_t> sessions_with_;    // template -> closed sessions having it
  absl::flat_hash_map<int32_t, int64_t> open_with_;        // template -> open sessions having it
  absl::flat_hash_map<uint64_t, int64_t> both_;            // pair -> sessions having both
  absl::flat_hash_map<uint64_t, int64_t> unequal_;         // pair -> of those, counts differ
  absl::flat_hash_map<uint64_t, int64_t> signatures_;
  int64_t closed_ = 0;
  // Union scoring: the closed pieces of the last max_union_keys keys (oldest first in union_order_).
  struct Union {
    absl::flat_hash_map<int32_t, int32_t> counts;
    SessionLines lines;
    int pieces = 0;
  };
  absl::flat_hash_map<uint64_t, Union> unions_;
  std::deque<uint64_t> union_order_;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SESSION_SHAPE_H_
