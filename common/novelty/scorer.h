// NoveltyScorer: the label-free (k = 0) detector of one site's stream. Lines are scored online, each
// from what came before it, as live detection does; then learnt. Six signals (signals.h, severity.h):
//   template   the template is new, or rare so far           (TemplateCounts)
//   severity   the level or message words are alarming        (severity.h)
//   burst      the template occurs in a burst                 (RateTracker per template)
//   source     the component / host emits in a burst          (RateTracker per component and host)
//   param      a parameter value unusual for its position     (ParamValues)
//   sequence   the template is an unlikely next event of its session (SequenceModel; only for
//              lines that carry a session key: block id, host)
// Lines with a session key also feed a SessionScorer (session_scorer.h): when a session goes quiet
// or ends it gets its own score, threshold and alert (TakeSessionScores), from count invariants,
// its signature's rarity and its lines' maxima.
// Each raw signal becomes a tail probability against its own history on this site (TailHistogram),
// so no unit or scale is tuned per source; the fused score is the weighted sum of -log10 of those
// tails (Fisher's combination, each term capped) plus a severity term that also orders the lines
// within a severe level (failure words, the template's recurrence on severe lines, value reports,
// fixed messages, file-path parameters, how rarely the line's component logs at a severe level, field
// reports of a dump; NoveltyOptions::within_level). The first hold_lines lines are held and decided
// together once the stream is that long (TakeReleased). The alert threshold is a SiteThreshold
// (site_threshold.h): with no labels the running upper quantile at the site's alert budget
// (expected_alert_rate), raised to the compact alarm-backed clusters at the top of the scores when
// the stream shows them, the lines below them still getting a share of the budget among themselves
// (NoveltyOptions::rest_budget; site_threshold.h's rules; value reports keep the budget threshold then,
// NoveltyOptions::reports_adapt), and the labelled lines' F1-best threshold once
// labels arrive (AddLabel). Optionally (NoveltyOptions::rank_window, off by default) the line's
// decision with no labels is the rank cut (rank_cut.h): the histogram threshold's count of alerts
// among the recent lines, given to the highest-ranked ones. With no labels the budget window
// (budget_window.h, NoveltyOptions::budget_window) withholds an alert below the incident clusters
// when the recent lines already hold the budget's share of such alerts. With no
// labels the site states how many alerts it can take, not a score. Every LineScore names the
// signals that fired.
// Thread-compatible: one scorer per source stream, used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_SCORER_H_
#define FEDLOG_COMMON_NOVELTY_SCORER_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/novelty/budget_window.h"
#include "common/novelty/rank_cut.h"
#include "common/novelty/session_scorer.h"
#include "common/novelty/signals.h"
#include "common/novelty/site_threshold.h"
#include "common/novelty/tail_histogram.h"

namespace fedlog::novelty {

enum Signal : int {
  kTemplate = 0,
  kSeverity,
  kBurst,
  kSource,
  kParam,
  kSequence,
  kNumSignals,
};
// "template", "severity", "burst", "source", "param", "sequence".
std::string_view SignalName(int signal);

struct NoveltyOptions {
  // Share of lines the site accepts as alerts (detect.expected_alert_rate); the threshold is the
  // running (1 - rate) quantile of the fused score. In (0, 0.5].
  double expected_alert_rate = 0.01;
  // Label-free adaptation ceiling and label shrinkage of the threshold (ThresholdOptions; the other
  // threshold fields keep their defaults, warmup_lines below is shared).
  double max_alert_rate = 0.25;
  double label_prior = 10;
  // Largest alarm-backed cluster the label-free threshold splits at its Otsu cut when the cluster
  // is larger than max_alert_rate or the alarm lines allow (ThresholdOptions::max_cluster_share);
  // <= max_alert_rate: no split. Lines only: the session threshold does not split.
  double max_cluster_share = 0.5;
  // ThresholdOptions::split_valley_cluster (lines only).
  bool split_valley_cluster = false;
  // ThresholdOptions::rule and cluster_width (lines only: the session threshold keeps the valley
  // rule). compact was chosen on the tuning system only (docs/EVALUATION.md "Session 10").
  ThresholdRule threshold_rule = ThresholdRule::kCompact;
  double cluster_width = 0.0625;
  // ThresholdOptions::rest_budget (lines only): once the compact rule has adapted, the lines below
  // the incident clusters still get part of the budget, as a stream without clusters would: the
  // threshold is the upper quantile, at rest_budget * expected_alert_rate, of the scores below the
  // clusters. The budget bounds the false alerts of two places: a normal compact cluster the rule
  // takes for an incident (which no label-free rule can see) and the top of the rest. Half is kept
  // for the first, half spent on the second (session 12, docs/EVALUATION.md "Session 12"; the whole
  // budget broke it on BGL-20k). 0: nothing outside the clusters (session 11).
  double rest_budget = 0.5;
  // ThresholdOptions::rest_interpolate (lines only): the rest's cut may fall inside a histogram bin,
  // the bin that does not fit the rest's share whole taken in part (its lines taken as spread evenly
  // in ln(1 + score)). false: whole bins (session 12's cut). Session 18 (docs/EVALUATION.md).
  bool rest_interpolate = false;
  // ThresholdOptions::refresh_lines and refresh_on_rise (lines only; the session threshold keeps
  // 64 and no rise refresh): how often the histogram threshold is recomputed, and whether a rise of
  // the budget quantile in the budget stage recomputes it at once. On since session 24: the first
  // incident burst of a stream otherwise waits up to 63 lines for the compact rule (docs/EVALUATION.md
  // "Session 24"); shorter refreshes lowered the tuning system there.
  int64_t threshold_refresh_lines = 64;
  bool refresh_on_rise = true;
  // The rank cut (rank_cut.h; lines only, session 13): while the threshold is label-free (budget or
  // adapted stage), a line alerts when its score is at least the m-th largest of the last rank_window
  // lines (itself included), m the histogram threshold's alerts among them (its decision on this line
  // included), capped at the incident clusters
  // plus the budget's share of the window's other lines. The histogram threshold says how many; the
  // rank among recent lines says which (it moves by whole bins every refresh, the rank cut does not).
  // Held lines and value reports waiting for the budget keep the histogram threshold. 0 (default): off,
  // the histogram threshold decides alone (session 12's rule). Off because it lost on BGL-20k (F1 0.505
  // against 0.739): its count lags the histogram threshold when a burst arrives before the threshold has
  // adapted (docs/EVALUATION.md "Session 13"). 4,096 is the window measured (LiveFewShot's window of
  // label-free scores). At most 65536.
  int64_t rank_window = 0;
  // The budget window (budget_window.h; lines only): while the threshold is label-free (budget or
  // adapted stage), over any budget_window consecutive lines (the lines so far while fewer) the
  // alerts on lines below the incident clusters' valley (every line when the rule has not adapted)
  // stay at most floor(expected_alert_rate x the window's lines below it), the lines still to come
  // counting as below while the stream is shorter than the window: an alert that would pass that
  // count is withheld (LineScore::withheld). The incident clusters are neither counted nor
  // throttled. Held lines count at their release. This is what the budget promises an operator
  // over any stretch of the stream, where the histogram threshold (a quantile over the whole stream
  // so far) promises it only on average. A window shorter than 1 / expected_alert_rate lines (whose
  // budget is less than one line) is raised to that (BudgetWindowLines). 5,000 was chosen on the
  // tuning parts only: the smallest window measured whose every run kept the budget there at no F1
  // cost (docs/EVALUATION.md "Session 15"). 0: off (session 14's decision). At most 1,000,000.
  int64_t budget_window = 5000;
  // Weight of each signal's -log10(tail) in the fused score (0 switches a signal off). Defaults
  // were chosen on the tuning system only (loghub-2k BGL, docs/EVALUATION.md "A new site with no
  // labels"), within the family that keeps every signal on: there the novelty signals rank the
  // labelled incidents BELOW the rare normal lines among severe lines, so they get a small weight
  // and the severity words lead.
  std::array<double, kNumSignals> weights = {0.1, 1, 0.1, 0.1, 0.1, 0.1};
  // Scales the severity term below (not ranked against history): alarm words count even on a
  // source where they are common. 0 = severity only through its tail (and the recurrence and
  // report terms).
  double severity_prior = 4.0;
  // Within the severity level, for a site whose severe lines are many (chosen on the tuning system
  // only, docs/EVALUATION.md "A new site with no labels"). The severity term of the fused score is
  //   severity_prior * WithinLevelSeverity(level, content, within_level)      (severity.h)
  //   + recurrence_weight * AlarmRecurrence of the template   (severe-level lines only, signals.h;
  //     as a rate since its first severe line, recurrence_age_lines)
  //   - report_weight when the message ends in a bare value    (severe-level lines only, EndsInBareValue;
  //     with reports_field_only a field report too)
  //   (recurrence and fixed terms scaled by 1 - field_report_weight on a field report, IsFieldReport)
  //   + fixed_weight when the message has no variable part      (severe-level lines only: Drain found
  //     no parameter in it, LineEvent::params empty; a fixed severe message is an event of the
  //     system, a severe line carrying a path, an address or a register value reports one job's or
  //     one register's state)
  // and never below 0. A severe-level line has LevelSeverity >= 0.75 (ERROR and above; failure
  // words alone do not make one: on HDFS they mark routine exceptions that recur).
  // All three at 0 give the severity term of earlier versions (severity_prior * LineSeverity).
  double within_level = 0.25;       // failure words count a quarter on a severe level (ERROR+)
  double recurrence_weight = 0.4;   // per nat of ln(1 + the template's earlier severe-level lines, as a
                                    // rate when recurrence_age_lines > 0)
  double report_weight = 0.3;       // a severe value report (register dump) ranks this much lower
  double fixed_weight = 1.5;        // a severe message without parameters ranks this much higher
  // A severe message one of whose parameter values is a file path (IsPathValue: a job's program or
  // directory, "ciod: Error loading /home/u/app") ranks this much lower (severe-level lines only);
  // chosen on the tuning system only (docs/EVALUATION.md "Session 10"). 0: off.
  double path_weight = 1.0;
  // A path that repeats is fixed, not a user's: the path term is path_weight * (1 - path_repeat_weight
  // * share), share the path value's share of the earlier values at its template position
  // (ParamValues::Share; the largest such penalty over the line's path values). A mount point named on
  // every line of a template ("Lustre mount FAILED : bglio11 : point /p/gb1") loses the penalty, a new
  // program path ("ciod: Error loading /home/u/app") keeps it. In [0, 1]; 0: off (session 13's term).
  double path_repeat_weight = 0;
  // A severe line from a component that rarely logs at a severe level ranks higher: + quiet_weight *
  // LevelShare::Surprise of the line's component (-ln of the share of its earlier lines at ERROR or
  // above), capped at -ln(expected_alert_rate): a share below the budget's is as quiet as any
  // (severe-level lines with a component only). Levels are set by each program's authors: a program
  // that logs everything at ERROR says nothing new with one more ERROR line, a kernel that logs at
  // INFO does. Chosen on the tuning system only (docs/EVALUATION.md "Session 11"). 0: off.
  double quiet_weight = 0.25;
  // A field report (IsFieldReport: a short line giving a named field's value bound by ':', '=' or
  // dots, "machine state register: 0x00003000", or the header of such a list, "general purpose
  // registers:") gets only (1 - field_report_weight) of the recurrence and fixed-message terms
  // (severe-level lines only). A dump prints its field lines every time any job or node dumps, so
  // their recurrence counts dumps, and a field whose value rarely changes leaves Drain no parameter:
  // neither says the line is an event of its own. Chosen on the tuning parts only (docs/EVALUATION.md
  // "Session 14"; 0.5 and above made the dumps a compact cluster the threshold took for an incident).
  // In [0, 1]; 0: off (session 13's term).
  double field_report_weight = 0.25;
  // Value reports (IsValueReport: a register or counter dump) follow the adapted label-free threshold
  // like any line. false (default): while the threshold is adapted (ThresholdStage::kAdapted) a value
  // report alerts only at the budget threshold (SiteThreshold::BudgetThreshold): the compact rule
  // alerts incident clusters, and a dump describes an incident, it never is one (a crash prints the
  // same register line on every node of a job).
  bool reports_adapt = false;
  // The value-report rules (the -report_weight term and, unless reports_adapt, waiting for the budget
  // threshold while adapted) apply only to a value report that is also a field report
  // (IsFieldReport: a named field's value bound by ':', '=' or dots, or a list header). A sentence
  // that ends in a code ("rts: kernel terminated for reason 1004") tells an event, it reports no
  // field of a dump. false: every line ending in a bare value (EndsInBareValue; IsValueReport for
  // the wait), session 8's rule. Session 18 (docs/EVALUATION.md).
  bool reports_field_only = false;
  // The recurrence term as a rate (severe-level lines only): the template's count n of earlier
  // severe-level lines becomes n x S / (S + a), S = recurrence_age_lines and a the stream lines since
  // the template's first severe-level line (AlarmRecurrence::RateScore). A template that recurs
  // steadily keeps about ln(1 + its rate x S) however long the stream has run; a new severe kind that
  // recurs soon after it first came keeps nearly its whole count. Without it (0: ln(1 + n), session 8's
  // term) an old template's count grows with the stream's age, and a routine severe message that
  // came early outranks an incident whose kind first comes late. 250 was chosen on the tuning parts
  // only (docs/EVALUATION.md "Session 17"). 0: off. At most 1e9.
  int64_t recurrence_age_lines = 250;
  double term_cap = 6.0;            // each term is at most this (one signal cannot dominate)
  double fire_tail = 0.01;          // a signal "fired" when its tail probability is at most this
  int64_t warmup_lines = 100;       // no alert before this many lines were scored
  // Warm-up hold: a line scored while fewer than this many lines were seen is held instead of
  // decided (LineScore::held). When the stream reaches hold_lines lines (or ReleaseHeld is called),
  // each held line's severity term is computed again from the longer history (a template's
  // recurrence is then known), and it is decided against the threshold in force then
  // (TakeReleased). An alert is thus late by at most hold_lines lines. 0: no hold (a line scored
  // during warm-up is never alerted).
  int64_t hold_lines = 256;  // = adapt_min_lines 200 rounded up to the threshold's 64-line refresh
  RateOptions rate;                 // bucket width is in ms for timed lines, lines otherwise
  int64_t untimed_bucket_lines = 200;  // bucket width when a line has no time
  ParamOptions params;
  SequenceOptions sequence;
  SessionOptions session;           // session-level scoring (session_scorer.h)
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

// One line as the scorer needs it. Views must stay valid for the call only.
struct LineEvent {
  int32_t template_id = -1;        // Drain template (resolved id); -1: none
  int64_t time_ms = -1;            // < 0: no time (bursts then count lines)
  std::string_view level;          // may be empty
  std::string_view component;      // may be empty
  std::string_view host;           // may be empty
  std::string_view content;        // the message
  std::vector<std::string_view> params;  // the template's parameter values, in order
  bool has_session = false;        // sequence signal only with a session
  uint64_t session = 0;            // session key (hash of a block id, host, ...)
};

struct LineScore {
  bool held = false;      // decided later (NoveltyOptions::hold_lines, TakeReleased); alert is false
  double score = 0;       // fused score, >= 0 (higher = more anomalous)
  double severity_term = 0;  // the severity term within `score` (NoveltyOptions::severity_prior)
  double p_value = 1;     // tail of `score` against the site's earlier scores (calibrated, in (0,1])
  double threshold = 0;   // the budget threshold in force for this line (+inf during warm-up)
  bool alert = false;     // score >= threshold and score > 0
  uint32_t fired = 0;     // bit s set: signal s fired (tail <= fire_tail; severity also when the
                          // prior is on and the line has failure words or an ERROR+ level)
  bool new_template = false;
  ThresholdStage stage = ThresholdStage::kWarmup;  // which threshold was in force
  // The line reached the threshold, but the budget window was full (NoveltyOptions::budget_window):
  // alert is false.
  bool withheld = false;
  std::array<double, kNumSignals> raw{};   // raw signal values (nats; severity in [0,1])
  std::array<double, kNumSignals> tail{};  // their tail probabilities
};

// The verdict on a held line (NoveltyOptions::hold_lines), given when the hold ends.
struct HeldVerdict {
  int64_t line_index = 0;  // as given to ScoreAndLearn
  double score = 0;        // the score with the severity term computed again at release
  double threshold = 0;    // the threshold in force at release
  bool alert = false;      // score >= threshold and score > 0, and the budget window not full
  bool withheld = false;   // as LineScore::withheld
  double p_value = 1;      // tail of `score` against the site's scores at release (LineScore::p_value)
};

// "template+severity" (signals that fired, in Signal order); "" when none.
std::string FiredNames(uint32_t fired);

// The threshold options the scorer's SiteThreshold runs with.
ThresholdOptions ThresholdFor(const NoveltyOptions& options);
// The budget window the scorer keeps: budget_window raised to 1 / expected_alert_rate lines
// (0: off).
int64_t BudgetWindowLines(const NoveltyOptions& options);

class NoveltyScorer {
 public:
  // Options must Validate(); the caller checks (the constructor clamps nothing).
  explicit NoveltyScorer(const NoveltyOptions& options);

  // Scores `line` from the history only, then adds it to the history. `line_index` orders lines
  // without time (0, 1, 2, ... per stream).
  LineScore ScoreAndLearn(const LineEvent& line, int64_t line_index);
  // The fused score `line` would get now, learning nothing (a labelled line's score).
  double Peek(const LineEvent& line, int64_t line_index) const;
  // A labelled line (1 anomalous, 0 normal) with its score (Peek, or the score it got when it was
  // scored): moves the threshold towards the labels (SiteThreshold::AddLabel).
  void AddLabel(double score, int label) { threshold_.AddLabel(score, label); }
  void ClearLabels() { threshold_.ClearLabels(); }
  const SiteThreshold& threshold() const { return threshold_; }
  int64_t lines_seen() const { return lines_; }
  // Sessions scored since the last call (they closed when a later line arrived, or at
  // FlushSessions), appended to `out` in closing order.
  void TakeSessionScores(std::vector<SessionScore>* out);
  // Closes and scores every open session (end of the stream); TakeSessionScores returns them.
  void FlushSessions();
  // Held lines decided since the last call (the hold ended on a ScoreAndLearn, or ReleaseHeld),
  // appended to `out` in line order.
  void TakeReleased(std::vector<HeldVerdict>* out);
  // Ends the hold now (end of the stream, or a live delay bound): every held line is decided.
  void ReleaseHeld();
  int64_t held_lines() const { return static_cast<int64_t>(held_.size()); }
  SessionScorer& sessions() { return sessions_; }
  const NoveltyOptions& options() const { return options_; }

 private:
  // The fused score of raw signals plus the severity term; sets `tail` and `fired` when given.
  double Fuse(const std::array<double, kNumSignals>& raw, double severity_term,
              std::array<double, kNumSignals>* tail, uint32_t* fired) const;
  // The severity term of `line` (NoveltyOptions::severity_prior and the within-level fields).
  double SeverityTerm(const LineEvent& line) const;
  // In [0, 1]: how much of path_weight the line's path values take (path_repeat_weight).
  double PathPenalty(const LineEvent& line) const;
  std::array<double, kNumSignals> RawSignals(const LineEvent& line, int64_t tick) const;
  void Learn(const LineEvent& line, int64_t tick, const std::array<double, kNumSignals>& raw,
             double score);
  // A held line: what its severity term needs again at release.
  struct Held {
    int64_t line_index = 0;
    double score_without_severity = 0;  // the novelty terms of its score when it was scored
    int32_t template_id = -1;
    std::string level;
    std::string content;
    std::vector<std::string> params;  // its parameter values (fixed and path terms at release)
    std::string component;    // LevelShare's key at release
    int64_t rank_seq = 0;     // its line in the rank cut's window (RankCut::Revise at release)
    int64_t budget_seq = 0;   // its line in the budget window (BudgetWindow::Set at release)
  };
  // Keeps what a held line's decision at release needs (rank_seq, budget_seq: its line in the rank
  // cut and in the budget window).
  void Hold(const LineEvent& line, int64_t line_index, const LineScore& score, int64_t rank_seq,
            int64_t budget_seq);
  // The budget window's verdict on an alert of `score` on line `seq` (already added, not alerting):
  // false when it must be withheld (NoveltyOptions::budget_window); records the alert when kept.
  // Withholds only while `label_free` (the stage in force was budget or adapted); `valley` is the
  // incident clusters' valley in force.
  bool KeepAlert(int64_t seq, double score, double valley, bool label_free);
  // The threshold is label-free now (budget or adapted stage).
  bool LabelFree() const;
  // Whether the rank cut decides the next line (NoveltyOptions::rank_window); not where the histogram
  // threshold does: rank cut off, warm-up, labelled stage, a value report waiting for the budget.
  bool RankDecides(bool report_waits) const;
  // The alert decision for a line of `score` under `threshold` (the threshold in force): a value
  // report in the adapted stage keeps the budget threshold (NoveltyOptions::reports_adapt).
  bool DecideReport(double score, double threshold, bool value_report) const;
  // Whether `content` is a value report for the report rules (IsValueReport, and a field report
  // with NoveltyOptions::reports_field_only).
  bool ValueReport(std::string_view content) const;
  // Whether the -report_weight term applies (EndsInBareValue, and a field report with
  // reports_field_only).
  bool ReportTerm(std::string_view content) const;

  NoveltyOptions options_;
  TemplateCounts templates_;
  RateTracker template_rate_;
  RateTracker source_rate_;
  RateTracker untimed_template_rate_;
  RateTracker untimed_source_rate_;
  ParamValues params_;
  AlarmRecurrence alarm_recurrence_;
  LevelShare level_share_;
  SequenceModel sequence_;
  std::array<TailHistogram, kNumSignals> history_;
  TailHistogram scores_;
  SiteThreshold threshold_;
  RankCut rank_;
  BudgetWindow budget_window_;
  SessionScorer sessions_;
  std::vector<SessionScore> session_scores_;
  std::vector<Held> held_;
  std::vector<HeldVerdict> released_;
  bool hold_over_ = false;
  int64_t lines_ = 0;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SCORER_H_
