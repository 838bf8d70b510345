// LabelFreeScorer: live detection for a source that has no model yet (a new site, no labels): one
// novelty::NoveltyScorer per source (common/novelty, docs/DETECTION.md "Label-free detection") fed
// with the pipeline's own parse and Drain template. The threshold is the running quantile at the
// site's alert budget (detect.expected_alert_rate), adapted to the stream (detect.max_alert_rate; the
// compact rule's incident clusters plus detect.label_free_rest_budget of the budget below them) and
// moved towards the site's labelled lines as they arrive (SetLabels; novelty::SiteThreshold); with
// no labels, alerts below the incident clusters past the budget's share of the last
// detect.label_free_budget_window lines are withheld (novelty::BudgetWindow); each scored line says
// which signals fired. Lines with a session (detect.session_pattern's match, else
// the host field) also feed the scorer's session scoring: a session that went quiet and scored
// above the session threshold becomes a SessionAlert (TakeSessionAlerts), with its last line.
// Session labels: a labelled line that carries a session labels that session (the highest label of
// its lines). A session already scored moves the session threshold at once (ApplySessionLabels,
// novelty::SessionScorer::AddLabel); one still open does when it closes. The label also applies to
// the session's group (the sessions of its shape, novelty::SessionGroups): later sessions of a group
// labelled normal raise no alert (broken ones only when the labelled session was broken), of one
// labelled anomalous always do. The scores, groups and broken flags of the last kRecentSessions
// closed sessions per source are kept for this. A session verdict of
// `fedlog label` (origin "session:", label_verdicts.h) labels its session only, not its line.
// Label lookup (EnableSessionLookup, detect.session_lookup_match): the session labels also label
// their session key's unit (its lines' tokens, fewshot::SessionLookup), and a closing session whose
// unit shares at least that much of a labelled unit's tokens takes that label's verdict (alerts when
// anomalous, stays quiet when normal) instead of the session threshold's and groups' decision.
// Unit-kind verdicts (EnableSessionKinds, detect.session_kind_rule; fewshot::SessionKinds): each
// session label also labels the kind its key had when that session closed (the key's templates with
// their exact counts so far); a closing session whose key's kind was labelled normal only is then
// silenced, and with the raise rule one labelled anomalous only alerts (after the lookup, if both are
// on). With the exact rule a normal group verdict no longer silences a session the detector alerted:
// only its exact kind does.
// Whole-unit decisions (EnableSessionWholeUnit, detect.session_whole_unit; fewshot::SessionWholeUnits):
// with unit kinds on, a later piece of a session key re-decides the key as a whole by its kind now;
// the change becomes a SessionAlert of its own (SessionAlert::whole_unit): a late alert, or a
// withdrawal of the key's standing alert ("resolved": the whole unit matches a normal verdict).
// The federation's kind verdicts on sessions (SetKindSketch; detect.kind_verdicts "on"): a line given
// with its message kind (Score's `kind`, kinds::KindSignature) adds that kind to its open session's set
// (at most kMaxSessionKinds distinct kinds; past that a new kind is judged at once against the sketch in
// force and only an anomalous verdict is kept). A closing session that none of the site's own labels
// decides (its own label, the label lookup, its exact unit kind's verdict, its shape group's verdict)
// takes kinds::UnitVerdict(sketch, its kinds, silence = false): anomalous alerts it (SessionAlert::
// kind_verdict); a session is never silenced by routine kinds (its anomaly can be a missing or extra
// event of routine kinds). The set goes when the session closes. An anomalous verdict on a session the
// detector did not alert passes the source's alarm budget first (kinds::AlarmBudget over closed sessions,
// each counted once for each of its kinds, as the site's own when the detector alerted it or its labels
// decide it; SetKindSketch's `budget`): a verdict it withholds leaves the session to the detector
// (kind_withheld_sessions counts them).
// Union scoring (novelty::ShapeOptions::union_score, detect.session_union_score): at a later piece's
// close the key's union of pieces is scored too; when neither the piece nor the union alerts and the
// key's earlier alert stands, that alert is withdrawn (SessionAlert::whole_unit = kUnionWithdrawn).
// With whole-unit decisions on as well, the key has one decision (fewshot::SessionWholeUnits) that
// both update: the union clears the key's earlier detector alert before the kind rule judges the
// whole, so a union withdrawal holds at the key's later pieces and nothing is withdrawn twice. The
// federation's kind verdicts are applied before the kind rule (which leaves them: they act only on
// sessions the site's labels do not decide), so what they raise is part of the key's decision too.
// Warm-up hold (novelty::NoveltyOptions::hold_lines): a source's first lines are held, not decided;
// when the hold ends (the source reached hold_lines lines, or ReleaseHeldAfter's wall-time bound)
// each held line is decided, and those that alert become HeldAlerts (TakeHeldAlerts) with their
// message.
// Thread-compatible: owned by the LinePipeline, used by its one thread.
#ifndef FEDLOG_CLIENT_DETECT_LABEL_FREE_H_
#define FEDLOG_CLIENT_DETECT_LABEL_FREE_H_

#include <deque>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/fewshot/session_kinds.h"
#include "common/fewshot/session_lookup.h"
#include "common/fewshot/session_whole.h"
#include "common/kinds/alarm_budget.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/drain.h"
#include "common/logparse/parsed_line.h"
#include "common/novelty/event_builder.h"
#include "common/novelty/scorer.h"

namespace fedlog::client::detect {

class LabelFreeScorer {
 public:
  // One scorer per entry of `field_names` (each source's LineParser::field_names()). InvalidArgument
  // when the options do not Validate().
  // `session_pattern`: novelty::EventOptions::session_pattern for every source (InvalidArgument
  // when RE2 rejects it).
  static absl::StatusOr<std::unique_ptr<LabelFreeScorer>> Create(
      const novelty::NoveltyOptions& options,
      const std::vector<std::vector<std::string>>& field_names,
      const std::string& session_pattern = "");

  // Turns the label lookup on for every source (`match` in (0, 1]; InvalidArgument otherwise).
  absl::Status EnableSessionLookup(double match);
  // Turns unit-kind verdicts on for every source with `rule` (kOff: off).
  void EnableSessionKinds(fewshot::KindRule rule);
  // Turns whole-unit decisions on or off for every source (they act only where unit kinds are on).
  void EnableSessionWholeUnit(bool on);

  // The federation's kind counts for `source` (kinds::KindSketch, from the model's manifest) that judge
  // its closing sessions; nullptr: none (sessions keep the detector's decision). Not owned: it must
  // stay valid until replaced (the pipeline gives it again at each model swap). `options`: the verdicts'
  // options (detect.kind_verdict_silence_sites; only anomalous verdicts act on sessions); must be valid.
  // `budget`: the alarm budget on the verdicts (detect.kind_alarm_budget; valid); the counts of the sessions
  // seen are kept across calls.
  void SetKindSketch(int source, const kinds::KindSketch* sketch, const kinds::KindVerdictOptions& options = {},
                     const kinds::AlarmBudgetOptions& budget = {});
  // Anomalous session verdicts the alarm budget withheld so far, over all sources.
  int64_t kind_withheld_sessions() const { return kind_withheld_; }

  struct SessionAlert {
    int source = 0;
    bool timed = false;           // the session's ticks are ms of log time
    std::string last_line;        // the session's last message (at most kMaxLineBytes)
    novelty::SessionScore score;
    // The federation's kind verdict on the session (SetKindSketch): 1 it raised the alert (the
    // detector and the site's labels alone would not have), 2 the detector alerted and a kind of the
    // session is anomalous too; 0 none applied.
    int kind_verdict = 0;
    // Whole-unit decisions (EnableSessionWholeUnit): kWholeLateAlert, the key as a whole alerts now
    // (the session alone would not); kWholeWithdrawn, not an alert: the key's earlier alert is
    // withdrawn, its whole unit matches a normal verdict; kUnionWithdrawn (union scoring, with or
    // without whole-unit decisions): the key's union of pieces no longer alerts; 0: the session's own
    // alert.
    int whole_unit = 0;
  };
  static constexpr int kWholeLateAlert = 1;
  static constexpr int kWholeWithdrawn = 2;
  // Union scoring (novelty::ShapeOptions::union_score): not an alert; the key's union scored below the
  // threshold at a later piece's close and its standing alert is withdrawn.
  static constexpr int kUnionWithdrawn = 3;
  // Whether an operator's "whole template is normal" verdict on the session's rarest template
  // (`rarest_declared_normal`) hides `sa` from the alert writer. Never a withdrawal of either kind (it
  // takes back an alert that was written), a session that broke a near-certain count relation, or one the
  // federation's kind verdict raised (its rarest template is not why it alerts).
  static bool HiddenByNormalTemplate(const SessionAlert& sa, bool rarest_declared_normal) {
    const bool withdrawal = sa.whole_unit == kWholeWithdrawn || sa.whole_unit == kUnionWithdrawn;
    return rarest_declared_normal && !withdrawal && !sa.score.broken && sa.kind_verdict != 1;
  }
  static constexpr size_t kMaxLineBytes = 512;
  // The most distinct message kinds kept per open session (see the header comment).
  static constexpr size_t kMaxSessionKinds = 32;

  // A held line that alerted when the hold ended.
  struct HeldAlert {
    int source = 0;
    int32_t template_id = -1;
    int64_t time_ms = -1;   // the line's log time (< 0: none)
    uint32_t fired = 0;     // signals that fired when it was scored
    std::string line;       // its message (at most kMaxLineBytes)
    novelty::HeldVerdict verdict;
  };

  // Scores the line of `source` just parsed into `parsed` and matched to `template_id` by `drain`
  // (its parameters are read from Drain's last line), then learns it.
  // `kind`: the line's message kind (kinds::KindSignature of its content) for the kind verdicts on its
  // session; nullopt: none (no kind, or session kind verdicts off).
  novelty::LineScore Score(int source, const logparse::ParsedLine& parsed,
                           const logparse::Drain& drain, int32_t template_id,
                           std::optional<uint64_t> kind = std::nullopt);
  // A labelled line of `source` (1 anomalous, 0 normal), parsed and matched the same way: its score
  // now (learning nothing) moves that source's threshold (novelty::SiteThreshold::AddLabel).
  // `session_only`: a verdict on the line's session (and its group), not on the line itself.
  void AddLabel(int source, const logparse::ParsedLine& parsed, const logparse::Drain& drain,
                int32_t template_id, int label, bool session_only = false);
  // The fused score a line of `source` (parsed and matched as for AddLabel) gets now, learning
  // nothing (novelty::NoveltyScorer::Peek): a labelled line's score for LiveFewShot.
  double PeekScore(int source, const logparse::ParsedLine& parsed, const logparse::Drain& drain,
                   int32_t template_id);
  // Forgets every source's labels, line and session (before the store's current set is given again).
  void ClearLabels();
  // Gives the session labels collected by AddLabel since ClearLabels to the session thresholds
  // (sessions still open get theirs when they close).
  void ApplySessionLabels();
  // Labelled sessions that reached `source`'s session threshold.
  int64_t session_labels(int source) const;
  static constexpr size_t kRecentSessions = 65536;
  // Appends the session alerts raised since the last call (sessions that closed on Score).
  void TakeSessionAlerts(std::vector<SessionAlert>* out);
  // Ends the hold of every source whose first held line was first seen here at least `hold_ms`
  // before `now_ms` (wall time; the first call that sees a source holding starts its clock).
  // hold_ms <= 0: no time bound.
  void ReleaseHeldAfter(int64_t now_ms, int64_t hold_ms);
  // Appends the held lines that alerted when their hold ended, in line order per source.
  void TakeHeldAlerts(std::vector<HeldAlert>* out);
  // For `fedlog label`: the session of the line Score saw last (false: it had none).
  bool last_session(uint64_t* session) const;
  // For `fedlog label`: with `keep` every closed session's score is also kept (with its source)
  // until TakeSessionScores; FlushSessions closes the open ones (end of the lines read).
  void KeepSessionScores(bool keep) { keep_scores_ = keep; }
  void FlushSessions();
  void TakeSessionScores(std::vector<std::pair<int, novelty::SessionScore>>* out);

 private:
  struct Source {
    std::unique_ptr<novelty::EventBuilder> builder;
    std::unique_ptr<novelty::NoveltyScorer> scorer;
    int64_t lines = 0;
    // The last message of each open session (bounded like the scorer's open sessions: an entry
    // goes when its session closes).
    absl::flat_hash_map<uint64_t, std::string> last_line;
    // Score, group and whether it was broken, of the last kRecentSessions closed sessions (oldest
    // first in closed_order): what a later verdict on the session needs.
    struct ClosedSession {
      double score = 0;
      uint64_t group = 0;
      bool broken = false;
      uint64_t kind = 0;  // its key's kind at its close (0: unit kinds off)
    };
    absl::flat_hash_map<uint64_t, ClosedSession> closed_score;
    std::deque<uint64_t> closed_order;
    // Session labels: of closed sessions (given by ApplySessionLabels) and of open ones (given
    // when they close).
    absl::flat_hash_map<uint64_t, int> labelled, pending;
    // Held lines (oldest first) until the scorer decides them; held_since_ms: wall time the hold
    // clock started (-1: not yet).
    std::deque<HeldAlert> held;
    int64_t held_since_ms = -1;
    std::unique_ptr<fewshot::SessionLookup> lookup;  // null: no label lookup
    std::unique_ptr<fewshot::SessionKinds> kinds;    // null: no unit-kind verdicts
    std::unique_ptr<fewshot::SessionWholeUnits> whole;  // null: no whole-unit decisions
    fewshot::KindRule kind_rule = fewshot::KindRule::kOff;
    // The federation's kind counts (SetKindSketch; null: none), and each open session's message kinds
    // (bounded like last_line: an entry goes when its session closes).
    const kinds::KindSketch* sketch = nullptr;
    kinds::KindVerdictOptions kind_options;
    kinds::AlarmBudget budget;  // over closed sessions (SetKindSketch)
    struct MessageKinds {
      std::vector<uint64_t> distinct;  // at most kMaxSessionKinds
      bool anomalous_past_cap = false;  // a kind past the cap had the anomalous verdict on arrival
      uint64_t past_cap_kind = 0;       // the first such kind (for the alarm budget)
    };
    absl::flat_hash_map<uint64_t, MessageKinds> message_kinds;
    // Union scoring without whole-unit decisions: the keys whose standing decision is an alert (the
    // last kRecentSessions keys that alerted, oldest first in alerted_order), for a withdrawal at a
    // later whole close.
    absl::flat_hash_set<uint64_t> alerted;
    std::deque<uint64_t> alerted_order;
  };
  // Adds `kind` to the open session `session`'s message kinds.
  static void AddMessageKind(Source& s, uint64_t session, uint64_t kind);
  // Whether the site's own labels decided closing session `c` of `s` (see the header comment);
  // `looked_up`: the label lookup did, `kind`: its key's unit kind at the close.
  static bool OwnLabelsDecide(const Source& s, const novelty::SessionScore& c, bool looked_up, uint64_t kind);
  // The federation's verdict on closing session `c` (SessionAlert::kind_verdict), updating c->alert;
  // the session's message kinds are forgotten.
  // (the alarm budget may withhold it: *withheld).
  static int ApplyMessageKinds(Source& s, novelty::SessionScore* c, bool own_decided, int64_t* withheld);
  // Turns the scorer's released verdicts of source `index` into HeldAlerts.
  void CollectReleased(int index);
  // Remembers a closed session's score (and its key's `kind`); gives it its pending label.
  void Closed(Source& s, const novelty::SessionScore& c, uint64_t kind);
  // Closed sessions of `source` into alerts_ (and kept_ when keeping).
  void TakeClosed(int source);
  std::vector<Source> sources_;
  novelty::LineEvent event_;
  std::vector<novelty::SessionScore> closed_;  // scratch
  std::vector<SessionAlert> alerts_;
  std::vector<HeldAlert> held_alerts_;
  std::vector<novelty::HeldVerdict> released_;  // scratch
  bool keep_scores_ = false;
  std::vector<std::pair<int, novelty::SessionScore>> kept_;
  int64_t kind_withheld_ = 0;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_LABEL_FREE_H_
