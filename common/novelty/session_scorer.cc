#include "common/novelty/session_scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedlog::novelty {
namespace {

// Order must follow enum SessionSignal.
constexpr std::array<std::string_view, kNumSessionSignals> kNames = {
    "invariant", "signature", "template", "sequence", "param", "severity", "rare"};

ThresholdOptions SessionThreshold(ThresholdOptions t, int64_t warmup) {
  t.warmup_lines = warmup;
  return t;
}

}  // namespace

std::string_view SessionSignalName(int signal) {
  if (signal < 0 || signal >= kNumSessionSignals) return "";
  return kNames[static_cast<size_t>(signal)];
}

std::string SessionFiredNames(uint32_t fired) {
  std::string out;
  for (int s = 0; s < kNumSessionSignals; ++s) {
    if ((fired & (1u << s)) == 0) continue;
    if (!out.empty()) out += '+';
    out += SessionSignalName(s);
  }
  return out;
}

absl::Status SessionOptions::Validate() const {
  for (double w : weights) {
    if (!(w >= 0 && w <= 100)) return absl::InvalidArgumentError("session: weights must be in [0, 100]");
  }
  if (warmup_sessions < 0) return absl::InvalidArgumentError("session: warmup_sessions must be >= 0");
  if (!(strong_violation > 0)) return absl::InvalidArgumentError("session: strong_violation must be > 0");
  if (!(max_backed_share >= 0 && max_backed_share <= 1)) {
    return absl::InvalidArgumentError("session: max_backed_share must be in [0, 1]");
  }
  return shape.Validate();
}

SessionScorer::SessionScorer(const SessionOptions& options, ThresholdOptions threshold,
                             double term_cap, double fire_tail)
    : options_(options),
      term_cap_(term_cap),
      fire_tail_(fire_tail),
      shapes_(options.shape),
      threshold_(SessionThreshold(threshold, options.warmup_sessions)) {}

void SessionScorer::Add(uint64_t session, int32_t template_id, int64_t tick, bool timed,
                        bool alarm, double template_raw, double sequence_raw, double param_raw,
                        double severity_raw, std::vector<SessionScore>* out) {
  line_signals_.assign({template_raw, sequence_raw, param_raw, severity_raw});
  closed_.clear();
  shapes_.Add(session, template_id, tick, timed, alarm, line_signals_, &closed_);
  Score(&closed_, out);
}

void SessionScorer::Flush(std::vector<SessionScore>* out) {
  closed_.clear();
  shapes_.Flush(&closed_);
  Score(&closed_, out);
}

void SessionScorer::Score(std::vector<ClosedSession>* closed, std::vector<SessionScore>* out) {
  for (const ClosedSession& c : *closed) {
    SessionScore s;
    s.session = c.session;
    s.violated = c.violated;
    s.broken = c.invariant / std::log(10.0) >= options_.strong_violation;
    s.rarest_template = c.rarest_template;
    s.shape = c.shape;
    s.kinds = c.kinds;
    s.lines = c.lines.lines;
    s.first_tick = c.lines.first_tick;
    s.last_tick = c.lines.last_tick;
    s.piece = c.piece;
    s.whole = c.whole;
    std::array<double, kNumSessionSignals> union_raw{};
    if (c.whole) {
      union_raw[kInvariant] = c.union_invariant;
      union_raw[kSignature] = c.union_signature;
      union_raw[kRareTemplate] = c.union_rare;
      const std::vector<double>& um = c.union_lines.line_max;
      for (int k = 0; k < 4 && static_cast<size_t>(k) < um.size(); ++k) {
        union_raw[static_cast<size_t>(kSessionTemplate + k)] = um[static_cast<size_t>(k)];
      }
    }
    s.raw[kInvariant] = c.invariant;
    s.raw[kSignature] = c.signature;
    s.raw[kRareTemplate] = c.rare;
    const std::vector<double>& m = c.lines.line_max;
    for (int k = 0; k < 4 && static_cast<size_t>(k) < m.size(); ++k) {
      s.raw[static_cast<size_t>(kSessionTemplate + k)] = m[static_cast<size_t>(k)];
    }
    for (int k = 0; k < kNumSessionSignals; ++k) {
      const size_t i = static_cast<size_t>(k);
      const double tail = s.raw[i] > 0 ? history_[i].Tail(s.raw[i]) : 1.0;
      if (s.raw[i] > 0 && tail <= fire_tail_) s.fired |= 1u << k;
      if (options_.weights[i] <= 0) continue;
      const bool own_scale = (k == kInvariant || k == kRareTemplate) && options_.invariant_as_log_p;
      const double term = own_scale ? s.raw[i] / std::log(10.0) : -std::log10(tail);
      s.score += options_.weights[i] * std::min(term_cap_, term);
      if (c.whole) {
        const double u = union_raw[i];
        const double utail = u > 0 ? history_[i].Tail(u) : 1.0;
        s.union_score += options_.weights[i] * std::min(term_cap_, own_scale ? u / std::log(10.0) : -std::log10(utail));
      }
    }
    s.p_value = scores_.Tail(s.score);
    const bool strong = std::max(c.invariant, c.rare) / std::log(10.0) >= options_.strong_violation;
    s.threshold = Threshold();
    s.alert = s.score > 0 && s.score >= s.threshold;
    s.union_alert = c.whole && s.union_score > 0 && s.union_score >= s.threshold;
    s.group = SessionGroupKey(options_.group_by, s.shape, s.kinds);
    s.group_decision = groups_.Decide(s.group, s.alert, s.broken, options_.keep_broken);
    if (s.group_decision != GroupDecision::kNone) s.alert = s.group_decision == GroupDecision::kRaised;
    threshold_.Decide(s.score, c.lines.alarm || strong);
    strong_ += strong ? 1 : 0;
    for (int k = 0; k < kNumSessionSignals; ++k) history_[static_cast<size_t>(k)].Add(s.raw[static_cast<size_t>(k)]);
    scores_.Add(s.score);
    out->push_back(s);
  }
}

double SessionScorer::BackedRate() const {
  const ThresholdOptions& t = threshold_.options();
  const int64_t n = scores_.count();
  if (n == 0 || t.max_alert_rate <= t.budget) return 0;
  const double share = static_cast<double>(strong_) / static_cast<double>(n);
  if (share > options_.max_backed_share) return 0;  // no stable structure to be broken
  const double rate = std::min(t.max_alert_rate, share);
  return rate > t.budget ? rate : 0;
}

double SessionScorer::LabelFreeThreshold() const {
  const double site = threshold_.LabelFreeThreshold();
  const double rate = BackedRate();
  if (std::isinf(site) || rate <= 0) return site;
  return std::min(site, scores_.UpperQuantile(rate));
}

std::string_view LabelCutName(LabelCut cut) {
  switch (cut) {
    case LabelCut::kMidpoint:
      return "midpoint";
    case LabelCut::kAgree:
      return "agree";
    case LabelCut::kNearest:
      return "nearest";
  }
  return "";
}

absl::StatusOr<LabelCut> ParseLabelCut(std::string_view name) {
  for (LabelCut c : {LabelCut::kMidpoint, LabelCut::kAgree, LabelCut::kNearest}) {
    if (name == LabelCutName(c)) return c;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown label cut '", std::string(name), "' (midpoint, agree or nearest)"));
}

double LabelledThreshold(double free, const std::vector<double>& scores, const std::vector<int>& labels,
                         double label_prior, LabelCut rule) {
  double cut = 0;
  if (std::isinf(free) || !MaxF1Threshold(scores, labels, &cut)) return free;
  const size_t n = std::min(scores.size(), labels.size());
  if (rule != LabelCut::kMidpoint) {
    // The gap: every threshold in (below, above] splits the labelled scores as `cut` does.
    double below = -std::numeric_limits<double>::infinity();
    double above = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      if (scores[i] >= cut) {
        above = std::min(above, scores[i]);
      } else {
        below = std::max(below, scores[i]);
      }
    }
    if (free > below && free <= above) {
      cut = free;  // the labels agree with the label-free threshold
    } else if (rule == LabelCut::kNearest) {
      cut = free <= below ? std::nextafter(below, std::numeric_limits<double>::infinity()) : above;
    }
  }
  const double w = static_cast<double>(n);
  return free + w / (w + label_prior) * (cut - free);
}

double SessionScorer::Threshold() const {
  const double free = LabelFreeThreshold();
  if (!labelled_ || !options_.label_threshold) return free;
  return LabelledThreshold(free, label_scores_, label_values_, threshold_.options().label_prior,
                           options_.label_cut);
}

ThresholdStage SessionScorer::stage() const {
  const ThresholdStage site = threshold_.stage();
  if (site == ThresholdStage::kWarmup) return site;
  if (labelled_ && options_.label_threshold) return ThresholdStage::kLabelled;
  return adapted_rate() > 0 ? ThresholdStage::kAdapted : ThresholdStage::kBudget;
}

double SessionScorer::adapted_rate() const {
  return std::max(threshold_.adapted_rate(), BackedRate());
}

void SessionScorer::AddLabel(double score, int label) {
  label_scores_.push_back(score);
  label_values_.push_back(label > 0 ? 1 : 0);
  labelled_ = labelled_ || label > 0;
}

void SessionScorer::AddLabel(double score, int label, uint64_t group, bool broken) {
  AddLabel(score, label);
  groups_.Add(group, label, broken);
}

void SessionScorer::ClearLabels() {
  groups_.Clear();
  label_scores_.clear();
  label_values_.clear();
  labelled_ = false;
}

}  // namespace fedlog::novelty
