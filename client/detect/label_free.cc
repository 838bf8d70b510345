#include "client/detect/label_free.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "common/base/status_macros.h"

namespace fedlog::client::detect {

absl::StatusOr<std::unique_ptr<LabelFreeScorer>> LabelFreeScorer::Create(
    const novelty::NoveltyOptions& options,
    const std::vector<std::vector<std::string>>& field_names, const std::string& session_pattern) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  auto out = std::make_unique<LabelFreeScorer>();
  novelty::EventOptions eo;
  eo.session_pattern = session_pattern;
  for (const auto& names : field_names) {
    Source s;
    FEDLOG_ASSIGN_OR_RETURN(s.builder, novelty::EventBuilder::Create(eo, names));
    s.scorer = std::make_unique<novelty::NoveltyScorer>(options);
    out->sources_.push_back(std::move(s));
  }
  return out;
}

absl::Status LabelFreeScorer::EnableSessionLookup(double match) {
  for (Source& s : sources_) {
    FEDLOG_ASSIGN_OR_RETURN(fewshot::SessionLookup l, fewshot::SessionLookup::Create(match));
    s.lookup = std::make_unique<fewshot::SessionLookup>(std::move(l));
  }
  return absl::OkStatus();
}

void LabelFreeScorer::EnableSessionKinds(fewshot::KindRule rule) {
  for (Source& s : sources_) {
    s.kind_rule = rule;
    if (rule == fewshot::KindRule::kOff) {
      s.kinds.reset();
    } else if (s.kinds == nullptr) {
      s.kinds = std::make_unique<fewshot::SessionKinds>();
    }
  }
}

void LabelFreeScorer::EnableSessionWholeUnit(bool on) {
  for (Source& s : sources_) {
    if (!on) {
      s.whole.reset();
    } else if (s.whole == nullptr) {
      s.whole = std::make_unique<fewshot::SessionWholeUnits>();
    }
  }
}

void LabelFreeScorer::SetKindSketch(int source, const kinds::KindSketch* sketch,
                                    const kinds::KindVerdictOptions& options, const kinds::AlarmBudgetOptions& budget) {
  if (source < 0 || source >= static_cast<int>(sources_.size())) return;
  Source& s = sources_[static_cast<size_t>(source)];
  s.sketch = sketch;
  s.kind_options = options;
  s.budget.SetOptions(budget);  // the verdicts it allowed are found again on the new sketch
}

novelty::LineScore LabelFreeScorer::Score(int source, const logparse::ParsedLine& parsed,
                                          const logparse::Drain& drain, int32_t template_id,
                                          std::optional<uint64_t> kind) {
  Source& s = sources_[static_cast<size_t>(source)];
  s.builder->Build(parsed, drain, template_id, &event_);
  const novelty::LineScore out = s.scorer->ScoreAndLearn(event_, s.lines++);
  if (out.held) {
    HeldAlert h;
    h.source = source;
    h.template_id = template_id;
    h.time_ms = event_.time_ms;
    h.fired = out.fired;
    h.line.assign(parsed.content.substr(0, std::min(parsed.content.size(), kMaxLineBytes)));
    h.verdict.line_index = s.lines - 1;
    s.held.push_back(std::move(h));
  }
  CollectReleased(source);
  TakeClosed(source);
  if (event_.has_session && s.scorer->options().session.enabled) {
    std::string_view text = parsed.content.substr(0, std::min(parsed.content.size(), kMaxLineBytes));
    s.last_line[event_.session].assign(text.data(), text.size());
    // After TakeClosed: a session of this key that closed on this line is judged without it.
    if (s.lookup != nullptr) s.lookup->AddLine(event_.session, template_id, parsed.content);
    if (s.kinds != nullptr) s.kinds->AddLine(event_.session, template_id);
    if (kind.has_value()) AddMessageKind(s, event_.session, *kind);
  }
  return out;
}

void LabelFreeScorer::AddMessageKind(Source& s, uint64_t session, uint64_t kind) {
  Source::MessageKinds& m = s.message_kinds[session];
  if (std::find(m.distinct.begin(), m.distinct.end(), kind) != m.distinct.end()) return;
  if (m.distinct.size() < kMaxSessionKinds) {
    m.distinct.push_back(kind);
    return;
  }
  // Past the cap: judged now, against the sketch in force (the kinds kept are judged at the close).
  if (!m.anomalous_past_cap && s.sketch != nullptr &&
      s.sketch->VerdictOf(kind, s.kind_options) == kinds::KindVerdict::kAnomalous) {
    m.anomalous_past_cap = true;
    m.past_cap_kind = kind;
  }
}

bool LabelFreeScorer::OwnLabelsDecide(const Source& s, const novelty::SessionScore& c, bool looked_up,
                                      uint64_t kind) {
  if (looked_up || s.pending.contains(c.session) || s.labelled.contains(c.session)) return true;
  if (s.kinds != nullptr && s.kind_rule != fewshot::KindRule::kOff && s.kinds->Decide(kind).has_value()) return true;
  return s.scorer->sessions().groups().Label(c.group) >= 0;
}

int LabelFreeScorer::ApplyMessageKinds(Source& s, novelty::SessionScore* c, bool own_decided, int64_t* withheld) {
  auto it = s.message_kinds.find(c->session);
  if (it == s.message_kinds.end()) return 0;
  const Source::MessageKinds m = std::move(it->second);
  s.message_kinds.erase(it);
  s.budget.Count(m.distinct, own_decided || c->alert);  // every closing session with kinds, decided or not
  if (own_decided || s.sketch == nullptr) return 0;
  const bool anomalous =
      m.anomalous_past_cap || kinds::UnitVerdict(*s.sketch, m.distinct, /*silence=*/false, s.kind_options) == kinds::KindVerdict::kAnomalous;
  if (!anomalous) return 0;
  // Raised by the verdict alone: only within the alarm budget (a kind past the cap by the first such kind;
  // its verdict is looked up again on the sketch now in force).
  std::vector<uint64_t> held = m.distinct;
  if (m.anomalous_past_cap) held.push_back(m.past_cap_kind);
  if (!c->alert && !s.budget.AllowsAny(held, *s.sketch, s.kind_options)) {
    ++*withheld;
    return 0;
  }
  const int verdict = c->alert ? 2 : 1;
  c->alert = true;
  return verdict;
}

void LabelFreeScorer::TakeClosed(int source) {
  Source& s = sources_[static_cast<size_t>(source)];
  closed_.clear();
  s.scorer->TakeSessionScores(&closed_);
  for (novelty::SessionScore& c : closed_) {
    bool looked_up = false;
    if (s.lookup != nullptr) {
      // A labelled unit this near decides the session, whatever its threshold and group said.
      if (const auto d = s.lookup->Decide(c.session); d.has_value()) {
        c.alert = d->label == 1;
        looked_up = true;
      }
    }
    // The key's kind at this close: its lines so far (this session's last line included).
    const uint64_t kind = s.kinds != nullptr ? s.kinds->KindOf(c.session) : 0;
    // kExact: a normal shape-group verdict does not silence; only the exact kind may (below).
    if (s.kinds != nullptr && s.kind_rule == fewshot::KindRule::kExact && !looked_up &&
        c.group_decision == novelty::GroupDecision::kSuppressed) {
      c.alert = true;
    }
    // The federation's kind verdicts: only where the site's own labels did not decide, so the kind
    // rule below leaves what they raise as it is (it acts only on a kind the labels decide).
    const int kind_verdict =
        ApplyMessageKinds(s, &c, OwnLabelsDecide(s, c, looked_up, kind), &kind_withheld_);
    // Whole-unit decisions: the key's one decision (fewshot::SessionWholeUnits), which the kind rule
    // on the key as a whole and its union of pieces (union scoring) both update.
    const bool whole_units = s.kinds != nullptr && s.whole != nullptr;
    fewshot::WholeUnitStep whole;
    if (whole_units) {
      const std::optional<bool> union_alert =
          c.whole ? std::optional<bool>(c.union_alert) : std::nullopt;
      whole = s.whole->Close(c.session, c.alert, kind, *s.kinds, s.kind_rule, union_alert);
      c.alert = whole.piece_alert;
    } else if (s.kinds != nullptr) {
      c.alert = s.kinds->Apply(s.kind_rule, kind, c.alert);
    }
    Closed(s, c, kind);
    if (keep_scores_) kept_.emplace_back(source, c);
    auto it = s.last_line.find(c.session);
    int whole_unit = 0;  // a change the session's own alert does not already say
    if (!c.alert && whole.change == fewshot::WholeUnitChange::kLateAlert) whole_unit = kWholeLateAlert;
    if (!c.alert && whole.change == fewshot::WholeUnitChange::kWithdrawn) whole_unit = kWholeWithdrawn;
    if (!c.alert && whole.change == fewshot::WholeUnitChange::kUnionWithdrawn) {
      whole_unit = kUnionWithdrawn;
    }
    // Union scoring without whole-unit decisions (with them the key's decision is SessionWholeUnits'
    // above): a key's standing alert is withdrawn when a later piece does not alert and the key's
    // union of pieces no longer does either.
    if (!whole_units && c.alert) {
      if (s.alerted.insert(c.session).second) {
        s.alerted_order.push_back(c.session);
        if (s.alerted_order.size() > kRecentSessions) {
          s.alerted.erase(s.alerted_order.front());
          s.alerted_order.pop_front();
        }
      }
    } else if (!whole_units && c.whole && !c.union_alert && s.alerted.erase(c.session) > 0) {
      whole_unit = kUnionWithdrawn;
    }
    if (c.alert || whole_unit != 0) {
      SessionAlert a;
      a.source = source;
      a.timed = event_.time_ms >= 0;
      if (it != s.last_line.end()) a.last_line = it->second;
      a.score = c;
      a.kind_verdict = kind_verdict;
      a.whole_unit = whole_unit;
      alerts_.push_back(std::move(a));
    }
    if (it != s.last_line.end()) s.last_line.erase(it);
  }
}

bool LabelFreeScorer::last_session(uint64_t* session) const {
  if (!event_.has_session) return false;
  *session = event_.session;
  return true;
}

void LabelFreeScorer::FlushSessions() {
  for (size_t i = 0; i < sources_.size(); ++i) {
    sources_[i].scorer->FlushSessions();
    TakeClosed(static_cast<int>(i));
  }
}

void LabelFreeScorer::TakeSessionScores(std::vector<std::pair<int, novelty::SessionScore>>* out) {
  out->insert(out->end(), kept_.begin(), kept_.end());
  kept_.clear();
}

void LabelFreeScorer::CollectReleased(int index) {
  Source& s = sources_[static_cast<size_t>(index)];
  released_.clear();
  s.scorer->TakeReleased(&released_);
  for (const novelty::HeldVerdict& v : released_) {
    // Verdicts come in line order, as the lines were held.
    while (!s.held.empty() && s.held.front().verdict.line_index < v.line_index) s.held.pop_front();
    if (s.held.empty() || s.held.front().verdict.line_index != v.line_index) continue;
    HeldAlert h = std::move(s.held.front());
    s.held.pop_front();
    if (!v.alert) continue;
    h.verdict = v;
    held_alerts_.push_back(std::move(h));
  }
  if (s.held.empty()) s.held_since_ms = -1;
}

void LabelFreeScorer::ReleaseHeldAfter(int64_t now_ms, int64_t hold_ms) {
  if (hold_ms <= 0) return;
  for (size_t i = 0; i < sources_.size(); ++i) {
    Source& s = sources_[i];
    if (s.held.empty()) continue;
    if (s.held_since_ms < 0) s.held_since_ms = now_ms;
    if (now_ms - s.held_since_ms < hold_ms) continue;
    s.scorer->ReleaseHeld();
    CollectReleased(static_cast<int>(i));
  }
}

void LabelFreeScorer::TakeHeldAlerts(std::vector<HeldAlert>* out) {
  out->insert(out->end(), std::make_move_iterator(held_alerts_.begin()),
              std::make_move_iterator(held_alerts_.end()));
  held_alerts_.clear();
}

void LabelFreeScorer::TakeSessionAlerts(std::vector<SessionAlert>* out) {
  out->insert(out->end(), alerts_.begin(), alerts_.end());
  alerts_.clear();
}

void LabelFreeScorer::Closed(Source& s, const novelty::SessionScore& c, uint64_t kind) {
  if (s.closed_score.insert_or_assign(c.session, Source::ClosedSession{c.score, c.group, c.broken, kind})
          .second) {
    s.closed_order.push_back(c.session);
    if (s.closed_order.size() > kRecentSessions) {
      s.closed_score.erase(s.closed_order.front());
      s.closed_order.pop_front();
    }
  }
  auto p = s.pending.find(c.session);
  if (p == s.pending.end()) return;
  s.scorer->sessions().AddLabel(c.score, p->second, c.group, c.broken);
  if (s.kinds != nullptr) s.kinds->Label(kind, p->second);
  s.labelled.insert_or_assign(c.session, p->second);
  s.pending.erase(p);
}

void LabelFreeScorer::AddLabel(int source, const logparse::ParsedLine& parsed,
                               const logparse::Drain& drain, int32_t template_id, int label,
                               bool session_only) {
  Source& s = sources_[static_cast<size_t>(source)];
  s.builder->Build(parsed, drain, template_id, &event_);
  if (!session_only) s.scorer->AddLabel(s.scorer->Peek(event_, s.lines), label);
  if (!event_.has_session || !s.scorer->options().session.enabled) return;
  const int y = label > 0 ? 1 : 0;
  if (s.lookup != nullptr) s.lookup->Label(event_.session, y);
  // An open session is judged when it closes; a closed one whose score is gone (or a session never
  // seen) cannot move the threshold.
  const bool open = s.last_line.contains(event_.session);
  if (!open && !s.closed_score.contains(event_.session)) return;
  auto& into = open ? s.pending : s.labelled;
  auto [it, added] = into.try_emplace(event_.session, y);
  if (!added) it->second = std::max(it->second, y);
}

double LabelFreeScorer::PeekScore(int source, const logparse::ParsedLine& parsed,
                                  const logparse::Drain& drain, int32_t template_id) {
  Source& s = sources_[static_cast<size_t>(source)];
  s.builder->Build(parsed, drain, template_id, &event_);
  return s.scorer->Peek(event_, s.lines);
}

void LabelFreeScorer::ApplySessionLabels() {
  for (Source& s : sources_) {
    if (s.lookup != nullptr) s.lookup->Fit();
    s.scorer->sessions().ClearLabels();
    if (s.kinds != nullptr) s.kinds->ClearLabels();
    for (const auto& [session, y] : s.labelled) {
      auto it = s.closed_score.find(session);
      if (it != s.closed_score.end()) {
        s.scorer->sessions().AddLabel(it->second.score, y, it->second.group, it->second.broken);
        if (s.kinds != nullptr) s.kinds->Label(it->second.kind, y);
      }
    }
  }
}

int64_t LabelFreeScorer::session_labels(int source) const {
  return sources_[static_cast<size_t>(source)].scorer->sessions().labels();
}

void LabelFreeScorer::ClearLabels() {
  for (Source& s : sources_) {
    s.scorer->ClearLabels();
    s.scorer->sessions().ClearLabels();
    s.labelled.clear();
    s.pending.clear();
    if (s.lookup != nullptr) s.lookup->ClearLabels();
    if (s.kinds != nullptr) s.kinds->ClearLabels();
  }
}

}  // namespace fedlog::client::detect
