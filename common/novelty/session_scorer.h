// SessionScorer: the label-free score of a whole session (block id, container, host stream), given
// when the session goes quiet or ends (session_shape.h). Seven session signals, each ranked against
// the sessions closed before it (TailHistogram) and fused as the line detector fuses its signals
// (weighted -log10 of the tails, each term capped):
//   invariant  count relations of the session's templates that usually hold, violated
//   signature  the session's template-count signature is rare
//   template   its rarest line's template rarity        (maximum over its lines)
//   sequence   its most surprising next event           (maximum over its lines, SequenceModel)
//   param      its most unusual parameter value         (maximum over its lines)
//   severity   its most alarming line                   (maximum over its lines)
//   rare       its rarest template among sessions (closed and open ones)
// The invariant signal is itself a sum of -log probabilities of the session's violations under the
// relations learnt so far, so by default it enters on its own scale (nats / ln 10, i.e. -log10 p,
// capped like every term) instead of being ranked: ranking a signal that is 0 for most sessions
// gives every violation about the same tail and erases the gap between one odd count and a write
// that was never acknowledged; the rare signal, -log of a template's share of sessions, likewise.
// Bursts and source rates are left out: they describe time buckets of
// the whole stream, not one session, and rank anomalous units below normal ones on every evaluated
// system (docs/EVALUATION.md). The default weights let three signals lead: the structural invariant
// and rare signals, and template rarity (the one line signal that ranks anomalous units above normal
// ones on every evaluated system; a missing acknowledgement and an exception template are the two
// faces of a broken session); the others get a small weight, as in the line detector (scorer.h).
// The choice was checked on HDFS's first 30% (the declared tuning part); docs/DETECTION.md "Sessions".
// The threshold is over session scores, so the site's alert budget is a share of sessions:
//   budget     the running quantile of the session score at the budget (a SiteThreshold, which
//              also adapts to an alarm-backed high-score cluster as for lines);
//   backed     the stream's own evidence says the budget is too low: more than the budget's share
//              of sessions are structurally broken (the invariant or the rare term at least
//              `strong_violation` in -log10 p: a relation that held in about 99% of earlier
//              sessions broke, or a template that about 99% of them lacked). The threshold is then
//              the score's running quantile at that share, never above the threshold's
//              max_alert_rate, so the alert rate rises to the share of broken sessions and no
//              further; it needs no valley in the score histogram, only the count. A share above
//              `max_backed_share` is not taken as evidence: sessions that often look broken (a
//              host's stream on a source with hundreds of templates) have no stable structure,
//              and the budget stays;
//   labelled   labelled sessions (AddLabel): the F1-best cut on their scores, shrunk towards the
//              label-free threshold by n / (n + label_prior), as SiteThreshold does for lines.
//              Where in the F1-best gap the cut sits is SessionOptions::label_cut (LabelCut).
// A labelled session also labels its group (session_groups.h: the sessions of its shape): later
// sessions of a group labelled normal raise no alert (a broken one only when the verdict was given
// on a broken session), of one labelled anomalous always alert.
// Thread-compatible: one instance per source stream, used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_SESSION_SCORER_H_
#define FEDLOG_COMMON_NOVELTY_SESSION_SCORER_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/novelty/session_groups.h"
#include "common/novelty/session_shape.h"
#include "common/novelty/site_threshold.h"
#include "common/novelty/tail_histogram.h"

namespace fedlog::novelty {

enum SessionSignal : int {
  kInvariant = 0,
  kSignature,
  kSessionTemplate,
  kSessionSequence,
  kSessionParam,
  kSessionSeverity,
  kRareTemplate,  // appended: the indices above keep their meaning
  kNumSessionSignals,
};
// "invariant", "signature", "template", "sequence", "param", "severity", "rare".
std::string_view SessionSignalName(int signal);
// "invariant+template" (signals that fired, in SessionSignal order); "" when none.
std::string SessionFiredNames(uint32_t fired);

// Where the labelled stage's cut sits among the thresholds that split the labelled scores as the
// F1-best cut does (the gap between the highest labelled score below it and the lowest at or above):
//   kMidpoint  the gap's midpoint (MaxF1Threshold), whatever the label-free threshold is;
//   kAgree     the label-free threshold when it lies in the gap (the labels agree with it: every
//              labelled score falls on the side the best cut puts it), else the midpoint;
//   kNearest   the label-free threshold moved only as far as the labels require: into the gap, at
//              its nearer end.
// With a few labels far apart (one anomalous session at 11, normal ones near 0.5) the midpoint sits
// far above a label-free threshold that already separated them, and the labels that agreed with it
// silence anomalous sessions between the two (docs/EVALUATION.md "Session 17").
enum class LabelCut { kMidpoint, kAgree, kNearest };
// "midpoint", "agree", "nearest" (detect.session_label_cut, eval newsite's --session-label-cut).
std::string_view LabelCutName(LabelCut cut);
// InvalidArgument for any other name.
absl::StatusOr<LabelCut> ParseLabelCut(std::string_view name);

struct SessionOptions {
  bool enabled = true;  // score sessions of lines that carry a session key
  ShapeOptions shape;
  // Weight of each session signal's -log10(tail); 0 switches one off.
  // Default: invariant, template and rare lead (weight 1), the rest 0.1; docs/DETECTION.md "Sessions".
  std::array<double, kNumSessionSignals> weights = {1, 0.1, 1, 0.1, 0.1, 0.1, 1};
  // The invariant and rare terms are their own -log10 probability (true) or their tail among
  // earlier sessions.
  bool invariant_as_log_p = true;
  // -log10 p of the invariant or the rare signal from which a session counts as alarming for the
  // threshold's adaptation (site_threshold.h), as a line with an alarm word does: a relation that
  // held in about 99% of earlier sessions broke, or a template that about 99% of them lacked.
  double strong_violation = 2.0;
  // The share of broken sessions up to which the threshold follows it (above: the budget).
  double max_backed_share = 0.05;
  int64_t warmup_sessions = 100;  // no session alert before this many sessions closed
  // Session verdicts apply to the group of sessions of the same shape (session_groups.h).
  GroupBy group_by = GroupBy::kShape;
  // A group labelled normal still alerts on a session that broke a near-certain relation.
  bool keep_broken = false;
  // Labelled sessions also move the session threshold (the labelled stage below); false: their
  // verdicts act through their groups only.
  bool label_threshold = true;
  // Where the labelled stage's cut sits in the F1-best gap (LabelCut above). Default kMidpoint (the
  // rule before session 17): kAgree won on HDFS's and Hadoop's tuning parts but lost HDFS's held
  // pool-blocks active rows, so it stays opt-in (docs/EVALUATION.md "Session 17").
  LabelCut label_cut = LabelCut::kMidpoint;
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

// The labelled stage's threshold: the F1-best cut on the labelled scores (MaxF1Threshold), placed in
// its gap by `cut` (LabelCut), shrunk towards the label-free threshold `free` by n / (n + label_prior);
// `free` when no label is anomalous. SessionScorer::Threshold uses it; `fedlog eval newsite` replays
// labels with it.
double LabelledThreshold(double free, const std::vector<double>& scores, const std::vector<int>& labels,
                         double label_prior, LabelCut cut = LabelCut::kMidpoint);

struct SessionScore {
  uint64_t session = 0;
  double score = 0;      // fused session score (higher = more anomalous)
  double p_value = 1;    // tail of `score` against the earlier sessions' scores
  double threshold = 0;  // the threshold in force (+inf during warm-up)
  bool alert = false;
  uint32_t fired = 0;    // bit s: session signal s fired (tail <= fire_tail)
  int violated = 0;      // invariant relations violated
  bool broken = false;   // the invariant term reached strong_violation (a near-certain relation broke)
  int32_t rarest_template = -1;  // the template behind the `rare` term (-1: none)
  uint64_t shape = 0, kinds = 0;  // ClosedSession's shape keys (session_groups.h groups by them)
  uint64_t group = 0;             // the key SessionOptions::group_by picks
  // A group verdict decided `alert` (kSuppressed: the detector alone would have alerted).
  GroupDecision group_decision = GroupDecision::kNone;
  int64_t lines = 0, first_tick = 0, last_tick = 0;
  std::array<double, kNumSessionSignals> raw{};
  // Union scoring (ShapeOptions::union_score, ClosedSession): the key's piece number; `whole`: the
  // key's union of pieces was scored too (`union_score`, fused like `score` against the same
  // history and judged at `threshold`, never learnt). The fields above stay this piece's. A key's
  // decision after a whole close is this piece's alert, or its earlier decision while the union
  // still alerts: the union withdraws an earlier alert, never raises one.
  int piece = 1;
  bool whole = false;
  double union_score = 0;
  bool union_alert = false;
};

class SessionScorer {
 public:
  // `threshold` gives the budget and adaptation (its warmup is replaced by warmup_sessions);
  // `term_cap` and `fire_tail` as in NoveltyOptions. Options must Validate(); the caller checks.
  SessionScorer(const SessionOptions& options, ThresholdOptions threshold, double term_cap,
                double fire_tail);

  // One line of `session`: its template, tick (ms when `timed`, else its line number), whether it
  // carried an alarm word, and its line signals (template, sequence, param, severity raw values).
  // Sessions that went quiet before it are scored into `out`.
  void Add(uint64_t session, int32_t template_id, int64_t tick, bool timed, bool alarm,
           double template_raw, double sequence_raw, double param_raw, double severity_raw,
           std::vector<SessionScore>* out);
  // Scores every open session (end of stream) into `out`.
  void Flush(std::vector<SessionScore>* out);
  // A labelled session's score (1 anomalous, 0 normal) moves the session threshold (the labelled
  // stage starts with the first anomalous label); with its `group` (SessionScore::group), the
  // verdict also applies to the later sessions of that group; `broken`: the labelled session broke
  // a near-certain relation (SessionScore::broken), so a normal verdict also silences the group's
  // broken sessions (session_groups.h).
  void AddLabel(double score, int label);
  void AddLabel(double score, int label, uint64_t group, bool broken = false);
  void ClearLabels();
  const SessionGroups& groups() const { return groups_; }
  // The threshold in force now (+infinity during warm-up), and its label-free part.
  double Threshold() const;
  double LabelFreeThreshold() const;
  // kBudget, kAdapted (the SiteThreshold's alarm-backed cluster, or the share of broken sessions
  // above the budget), kLabelled, or kWarmup.
  ThresholdStage stage() const;
  // The share of sessions the label-free threshold stands for when above the budget (0 otherwise).
  double adapted_rate() const;
  // Sessions scored so far that were structurally broken (see "backed" above).
  int64_t strong_sessions() const { return strong_; }
  int64_t labels() const { return static_cast<int64_t>(label_scores_.size()); }
  size_t open_sessions() const { return shapes_.open_sessions(); }

 private:
  void Score(std::vector<ClosedSession>* closed, std::vector<SessionScore>* out);
  // The share of broken sessions, capped at max_alert_rate (0 when that is at most the budget).
  double BackedRate() const;

  SessionOptions options_;
  double term_cap_, fire_tail_;
  SessionShapes shapes_;
  std::array<TailHistogram, kNumSessionSignals> history_;
  TailHistogram scores_;
  SiteThreshold threshold_;
  int64_t strong_ = 0;
  std::vector<double> label_scores_;
  std::vector<int> label_values_;
  bool labelled_ = false;  // some label is anomalous
  SessionGroups groups_;
  std::vector<ClosedSession> closed_;  // scratch
  std::vector<double> line_signals_;   // scratch
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SESSION_SCORER_H_
