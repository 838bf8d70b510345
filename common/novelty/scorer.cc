#include "common/novelty/scorer.h"

#include <algorithm>
#include <cmath>

#include "common/logparse/drain.h"
#include "common/novelty/severity.h"

namespace fedlog::novelty {
namespace {

// Order must follow enum Signal.
constexpr std::array<std::string_view, kNumSignals> kSignalNames = {
    "template", "severity", "burst", "source", "param", "sequence"};

uint64_t KeyHash(char kind, std::string_view text) {
  const char prefix[2] = {kind, ':'};
  return logparse::TokenHash(text, logparse::TokenHash(std::string_view(prefix, 2)));
}

uint64_t TemplateKey(int32_t id) {
  return (uint64_t{'t'} << 56) ^ static_cast<uint64_t>(static_cast<uint32_t>(id));
}

// LevelSeverity from which a line's level is severe (ERROR and above): the within-level terms of
// the severity term order these lines only.
constexpr double kSevereLevel = 0.75;

// The session threshold keeps its valley rule only (the cluster split was chosen for lines).
ThresholdOptions SessionThresholdFor(const NoveltyOptions& o) {
  ThresholdOptions t = ThresholdFor(o);
  t.rule = ThresholdRule::kValley;
  t.max_cluster_share = 0;
  t.split_valley_cluster = false;
  t.rest_budget = 0;
  t.rest_interpolate = false;
  t.refresh_lines = ThresholdOptions{}.refresh_lines;
  t.refresh_on_rise = false;
  return t;
}

RateOptions Untimed(RateOptions o, int64_t lines) {
  o.bucket_width = lines;
  return o;
}

}  // namespace

ThresholdOptions ThresholdFor(const NoveltyOptions& o) {
  ThresholdOptions t;
  t.budget = o.expected_alert_rate;
  t.max_alert_rate = o.max_alert_rate;
  t.label_prior = o.label_prior;
  t.max_cluster_share = o.max_cluster_share;
  t.split_valley_cluster = o.split_valley_cluster;
  t.rule = o.threshold_rule;
  t.cluster_width = o.cluster_width;
  t.rest_budget = o.rest_budget;
  t.rest_interpolate = o.rest_interpolate;
  t.refresh_lines = o.threshold_refresh_lines;
  t.refresh_on_rise = o.refresh_on_rise;
  t.warmup_lines = o.warmup_lines;
  return t;
}

int64_t BudgetWindowLines(const NoveltyOptions& o) {
  if (o.budget_window <= 0) return 0;
  return std::max(o.budget_window, static_cast<int64_t>(std::ceil(1.0 / o.expected_alert_rate)));
}

std::string_view SignalName(int signal) {
  if (signal < 0 || signal >= kNumSignals) return "";
  return kSignalNames[static_cast<size_t>(signal)];
}

std::string FiredNames(uint32_t fired) {
  std::string out;
  for (int s = 0; s < kNumSignals; ++s) {
    if ((fired & (1u << s)) == 0) continue;
    if (!out.empty()) out += '+';
    out += SignalName(s);
  }
  return out;
}

absl::Status NoveltyOptions::Validate() const {
  if (!(expected_alert_rate > 0 && expected_alert_rate <= 0.5)) {
    return absl::InvalidArgumentError("novelty: expected_alert_rate must be in (0, 0.5]");
  }
  for (double w : weights) {
    if (!(w >= 0 && w <= 100)) return absl::InvalidArgumentError("novelty: weights must be in [0, 100]");
  }
  if (!(term_cap > 0)) return absl::InvalidArgumentError("novelty: term_cap must be > 0");
  if (!(severity_prior >= 0 && severity_prior <= 100)) {
    return absl::InvalidArgumentError("novelty: severity_prior must be in [0, 100]");
  }
  if (!(within_level >= 0 && within_level <= 1)) {
    return absl::InvalidArgumentError("novelty: within_level must be in [0, 1]");
  }
  if (!(recurrence_weight >= 0 && recurrence_weight <= 100) ||
      !(report_weight >= 0 && report_weight <= 100) || !(fixed_weight >= 0 && fixed_weight <= 100) ||
      !(path_weight >= 0 && path_weight <= 100) || !(quiet_weight >= 0 && quiet_weight <= 100)) {
    return absl::InvalidArgumentError(
        "novelty: recurrence_weight, report_weight, fixed_weight, path_weight and quiet_weight must be "
        "in [0, 100]");
  }
  if (!(field_report_weight >= 0 && field_report_weight <= 1)) {
    return absl::InvalidArgumentError("novelty: field_report_weight must be in [0, 1]");
  }
  if (!(path_repeat_weight >= 0 && path_repeat_weight <= 1)) {
    return absl::InvalidArgumentError("novelty: path_repeat_weight must be in [0, 1]");
  }
  if (recurrence_age_lines < 0 || recurrence_age_lines > 1000000000) {
    return absl::InvalidArgumentError("novelty: recurrence_age_lines must be in [0, 1e9] lines (0: off)");
  }

  if (!(fire_tail > 0 && fire_tail < 1)) {
    return absl::InvalidArgumentError("novelty: fire_tail must be in (0, 1)");
  }
  if (warmup_lines < 0) return absl::InvalidArgumentError("novelty: warmup_lines must be >= 0");
  if (threshold_refresh_lines < 1 || threshold_refresh_lines > 65536) {
    return absl::InvalidArgumentError("novelty: threshold_refresh_lines must be in [1, 65536]");
  }
  if (rank_window < 0 || rank_window > 65536) {
    return absl::InvalidArgumentError("novelty: rank_window must be in [0, 65536]");
  }
  if (budget_window < 0 || budget_window > 1000000) {
    return absl::InvalidArgumentError(
        "novelty: budget_window must be in [0, 1000000] lines (0: off)");
  }
  if (hold_lines < 0 || hold_lines > 100000) {
    return absl::InvalidArgumentError("novelty: hold_lines must be in [0, 100000]");
  }
  if (rate.bucket_width < 1 || untimed_bucket_lines < 1) {
    return absl::InvalidArgumentError("novelty: bucket widths must be >= 1");
  }
  if (!(rate.decay > 0 && rate.decay < 1)) {
    return absl::InvalidArgumentError("novelty: rate decay must be in (0, 1)");
  }
  if (sequence.top_g < 1) return absl::InvalidArgumentError("novelty: top_g must be >= 1");
  if (absl::Status st = session.Validate(); !st.ok()) return st;
  return ThresholdFor(*this).Validate();
}

NoveltyScorer::NoveltyScorer(const NoveltyOptions& options)
    : options_(options),
      template_rate_(options.rate),
      source_rate_(options.rate),
      untimed_template_rate_(Untimed(options.rate, options.untimed_bucket_lines)),
      untimed_source_rate_(Untimed(options.rate, options.untimed_bucket_lines)),
      params_(options.params),
      sequence_(options.sequence),
      threshold_(ThresholdFor(options)),
      rank_(options.rank_window),
      budget_window_(BudgetWindowLines(options)),
      sessions_(options.session, SessionThresholdFor(options), options.term_cap, options.fire_tail) {}

void NoveltyScorer::TakeSessionScores(std::vector<SessionScore>* out) {
  out->insert(out->end(), session_scores_.begin(), session_scores_.end());
  session_scores_.clear();
}

void NoveltyScorer::FlushSessions() { sessions_.Flush(&session_scores_); }

void NoveltyScorer::TakeReleased(std::vector<HeldVerdict>* out) {
  out->insert(out->end(), released_.begin(), released_.end());
  released_.clear();
}

void NoveltyScorer::ReleaseHeld() {
  hold_over_ = true;
  for (const Held& h : held_) {
    LineEvent e;
    e.template_id = h.template_id;
    e.level = h.level;
    e.content = h.content;
    e.component = h.component;
    e.params.assign(h.params.begin(), h.params.end());  // fixed and path terms
    HeldVerdict v;
    v.line_index = h.line_index;
    v.score = h.score_without_severity + SeverityTerm(e);
    v.threshold = threshold_.Threshold();
    v.alert = DecideReport(v.score, v.threshold, ValueReport(h.content));
    v.p_value = scores_.Tail(v.score);
    rank_.Revise(h.rank_seq, v.alert);  // the histogram rule's verdict counts in the rank cut's m
    if (options_.budget_window > 0) {
      budget_window_.Set(h.budget_seq, v.score, false);  // its score at release
      if (v.alert && !KeepAlert(h.budget_seq, v.score, threshold_.ClusterValley(), LabelFree())) {
        v.alert = false;
        v.withheld = true;
      }
    }
    released_.push_back(v);
  }
  held_.clear();
  held_.shrink_to_fit();
}

std::array<double, kNumSignals> NoveltyScorer::RawSignals(const LineEvent& line,
                                                          int64_t tick) const {
  std::array<double, kNumSignals> raw{};
  const bool timed = line.time_ms >= 0;
  const RateTracker& trate = timed ? template_rate_ : untimed_template_rate_;
  const RateTracker& srate = timed ? source_rate_ : untimed_source_rate_;
  raw[kTemplate] = templates_.Score(line.template_id);
  raw[kSeverity] = LineSeverity(line.level, line.content);
  raw[kBurst] = trate.Score(TemplateKey(line.template_id), tick);
  double source = 0;
  if (!line.component.empty()) source = srate.Score(KeyHash('c', line.component), tick);
  if (!line.host.empty()) source = std::max(source, srate.Score(KeyHash('h', line.host), tick));
  raw[kSource] = source;
  raw[kParam] = params_.Score(line.template_id, line.params);
  if (line.has_session) raw[kSequence] = sequence_.Score(line.session, line.template_id);
  return raw;
}

void NoveltyScorer::Learn(const LineEvent& line, int64_t tick,
                          const std::array<double, kNumSignals>& raw, double score) {
  const bool timed = line.time_ms >= 0;
  RateTracker& trate = timed ? template_rate_ : untimed_template_rate_;
  RateTracker& srate = timed ? source_rate_ : untimed_source_rate_;
  templates_.Observe(line.template_id);
  trate.Observe(TemplateKey(line.template_id), tick);
  if (!line.component.empty()) srate.Observe(KeyHash('c', line.component), tick);
  if (!line.host.empty()) srate.Observe(KeyHash('h', line.host), tick);
  params_.Observe(line.template_id, line.params);
  alarm_recurrence_.Observe(line.template_id, LevelSeverity(line.level) >= kSevereLevel, lines_);
  if (!line.component.empty()) {
    level_share_.Observe(KeyHash('c', line.component), LevelSeverity(line.level) >= kSevereLevel);
  }
  if (line.has_session) sequence_.Observe(line.session, line.template_id);
  for (int s = 0; s < kNumSignals; ++s) {
    // A signal a source never has (no session, no component) keeps no history of zeros.
    if (s == kSequence && !line.has_session) continue;
    history_[static_cast<size_t>(s)].Add(raw[static_cast<size_t>(s)]);
  }
  scores_.Add(score);
  ++lines_;
}

double NoveltyScorer::SeverityTerm(const LineEvent& line) const {
  const NoveltyOptions& o = options_;
  double term = o.severity_prior * WithinLevelSeverity(line.level, line.content, o.within_level);
  if (LevelSeverity(line.level) >= kSevereLevel) {
    // A field report's repeats count dumps, and its fixed value is no event (field_report_weight).
    const double event =
        o.field_report_weight > 0 && IsFieldReport(line.content) ? 1.0 - o.field_report_weight : 1.0;
    const double recurrence =
        o.recurrence_age_lines > 0
            ? alarm_recurrence_.RateScore(line.template_id, lines_,
                                          static_cast<double>(o.recurrence_age_lines))
            : alarm_recurrence_.Score(line.template_id);
    term += event * o.recurrence_weight * recurrence;
    if (o.report_weight > 0 && ReportTerm(line.content)) term -= o.report_weight;
    if (line.params.empty()) term += event * o.fixed_weight;
    if (o.path_weight > 0) term -= o.path_weight * PathPenalty(line);
    if (o.quiet_weight > 0 && !line.component.empty()) {
      const double cap = -std::log(o.expected_alert_rate);
      term += o.quiet_weight * level_share_.Surprise(KeyHash('c', line.component), cap);
    }
  }
  return std::max(0.0, term);
}

double NoveltyScorer::PathPenalty(const LineEvent& line) const {
  double penalty = 0;  // the largest over the line's path values
  for (size_t i = 0; i < line.params.size(); ++i) {
    if (!IsPathValue(line.params[i])) continue;
    const double share =
        options_.path_repeat_weight > 0 ? params_.Share(line.template_id, i, line.params[i]) : 0.0;
    penalty = std::max(penalty, 1.0 - options_.path_repeat_weight * share);
  }
  return penalty;
}

double NoveltyScorer::Fuse(const std::array<double, kNumSignals>& raw, double severity_term,
                           std::array<double, kNumSignals>* tail, uint32_t* fired) const {
  double score = 0;
  for (int s = 0; s < kNumSignals; ++s) {
    const size_t i = static_cast<size_t>(s);
    const double t = raw[i] > 0 ? history_[i].Tail(raw[i]) : 1.0;
    if (tail != nullptr) (*tail)[i] = t;
    if (options_.weights[i] <= 0) continue;
    score += options_.weights[i] * std::min(options_.term_cap, -std::log10(t));
    if (fired != nullptr && raw[i] > 0 && t <= options_.fire_tail) *fired |= 1u << s;
  }
  // With the prior on, alarm words name themselves even where they are common.
  if (fired != nullptr && options_.severity_prior > 0 && raw[kSeverity] >= 0.6) {
    *fired |= 1u << kSeverity;
  }
  return score + severity_term;
}

bool NoveltyScorer::ValueReport(std::string_view content) const {
  return IsValueReport(content) && (!options_.reports_field_only || IsFieldReport(content));
}

bool NoveltyScorer::ReportTerm(std::string_view content) const {
  return EndsInBareValue(content) && (!options_.reports_field_only || IsFieldReport(content));
}

bool NoveltyScorer::DecideReport(double score, double threshold, bool value_report) const {
  if (score <= 0) return false;
  if (value_report && !options_.reports_adapt && threshold_.stage() == ThresholdStage::kAdapted) {
    return score >= threshold_.BudgetThreshold();
  }
  return score >= threshold;
}

bool NoveltyScorer::RankDecides(bool report_waits) const {
  const ThresholdStage stage = threshold_.stage();
  return options_.rank_window > 0 && !report_waits &&
         (stage == ThresholdStage::kBudget || stage == ThresholdStage::kAdapted);
}

double NoveltyScorer::Peek(const LineEvent& line, int64_t line_index) const {
  const int64_t tick = line.time_ms >= 0 ? line.time_ms : line_index;
  return Fuse(RawSignals(line, tick), SeverityTerm(line), nullptr, nullptr);
}

bool NoveltyScorer::LabelFree() const {
  const ThresholdStage stage = threshold_.stage();
  return stage == ThresholdStage::kBudget || stage == ThresholdStage::kAdapted;
}

bool NoveltyScorer::KeepAlert(int64_t seq, double score, double valley, bool label_free) {
  if (label_free && !budget_window_.Allows(score, valley, options_.expected_alert_rate)) {
    return false;
  }
  budget_window_.Set(seq, score, true);
  return true;
}

void NoveltyScorer::Hold(const LineEvent& line, int64_t line_index, const LineScore& score,
                         int64_t rank_seq, int64_t budget_seq) {
  Held h;
  h.line_index = line_index;
  h.score_without_severity = score.score - score.severity_term;
  h.template_id = line.template_id;
  h.level.assign(line.level.data(), line.level.size());
  h.content.assign(line.content.data(), line.content.size());
  h.params.assign(line.params.begin(), line.params.end());
  h.component.assign(line.component.data(), line.component.size());
  h.rank_seq = rank_seq;
  h.budget_seq = budget_seq;
  held_.push_back(std::move(h));
}

LineScore NoveltyScorer::ScoreAndLearn(const LineEvent& line, int64_t line_index) {
  const int64_t tick = line.time_ms >= 0 ? line.time_ms : line_index;
  LineScore out;
  out.raw = RawSignals(line, tick);
  out.new_template = templates_.total() > 0 && templates_.Count(line.template_id) == 0;
  out.severity_term = SeverityTerm(line);
  out.score = Fuse(out.raw, out.severity_term, &out.tail, &out.fired);
  out.p_value = scores_.Tail(out.score);
  out.stage = threshold_.stage();
  const bool alarm = HasSeverityWord(line.level) || HasSeverityWord(line.content);
  const bool report = ValueReport(line.content);
  // The stage and budget threshold in force before this score joins the history, as Decide's.
  const bool report_waits = report && !options_.reports_adapt &&
                            threshold_.stage() == ThresholdStage::kAdapted;
  const double budget = report_waits ? threshold_.BudgetThreshold() : 0.0;
  // The rank cut decides in the stage and with the clusters in force before this line, as the
  // histogram threshold; the window includes the line and the histogram rule's decision on it.
  const bool rank_decides = RankDecides(report_waits);
  const double valley = threshold_.ClusterValley();
  const bool label_free = LabelFree();  // the budget window's stage, as the rank cut's
  out.alert = threshold_.Decide(out.score, alarm, &out.threshold);
  if (report_waits) {  // LineScore::threshold names the threshold that decided the line
    out.threshold = budget;
    out.alert = out.score > 0 && out.score >= budget;
  }
  const bool held = !hold_over_ && lines_ < options_.hold_lines;
  // The rank cut's window remembers the histogram rule's decision (a held line's at its release).
  const int64_t rank_seq = options_.rank_window > 0 ? rank_.Add(out.score, out.alert && !held) : 0;
  if (rank_decides && !held) {
    out.threshold = rank_.Cut(valley, options_.expected_alert_rate);
    out.alert = out.score > 0 && out.score >= out.threshold;
  }
  // The budget window counts every line; an alert below the clusters in force before this line is
  // withheld when the window holds its share (a held line's at its release).
  const int64_t budget_seq = options_.budget_window > 0 ? budget_window_.Add(out.score, false) : 0;
  if (options_.budget_window > 0 && out.alert && !held &&
      !KeepAlert(budget_seq, out.score, valley, label_free)) {
    out.alert = false;
    out.withheld = true;
  }
  if (held) {
    out.held = true;
    out.alert = false;
    Hold(line, line_index, out, rank_seq, budget_seq);
  }
  if (line.has_session && options_.session.enabled) {
    sessions_.Add(line.session, line.template_id, tick, line.time_ms >= 0, alarm,
                  out.raw[kTemplate], out.raw[kSequence], out.raw[kParam], out.raw[kSeverity],
                  &session_scores_);
  }
  Learn(line, tick, out.raw, out.score);
  if (!hold_over_ && lines_ >= options_.hold_lines && !held_.empty()) ReleaseHeld();
  if (lines_ >= options_.hold_lines) hold_over_ = true;
  return out;
}

}  // namespace fedlog::novelty
