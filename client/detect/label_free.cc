#include "client/detect/label_free.h"

#include <algorithm>
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

novelty::LineScore LabelFreeScorer::Score(int source, const logparse::ParsedLine& parsed,
                                          const logparse::Drain& drain, int32_t template_id) {
  Source& s = sources_[static_cast<size_t>(source)];
  s.builder->Build(parsed, drain, template_id, &event_);
  const novelty::LineScore out = s.scorer->ScoreAndLearn(event_, s.lines++);
  closed_.clear();
  s.scorer->TakeSessionScores(&closed_);
  for (const novelty::SessionScore& c : closed_) {
    auto it = s.last_line.find(c.session);
    if (c.alert) {
      SessionAlert a;
      a.source = source;
      a.timed = event_.time_ms >= 0;
      if (it != s.last_line.end()) a.last_line = it->second;
      a.score = c;
      alerts_.push_back(std::move(a));
    }
    if (it != s.last_line.end()) s.last_line.erase(it);
  }
  if (event_.has_session && s.scorer->options().session.enabled) {
    std::string_view text = parsed.content.substr(0, std::min(parsed.content.size(), kMaxLineBytes));
    s.last_line[event_.session].assign(text.data(), text.size());
  }
  return out;
}

void LabelFreeScorer::TakeSessionAlerts(std::vector<SessionAlert>* out) {
  out->insert(out->end(), alerts_.begin(), alerts_.end());
  alerts_.clear();
}

void LabelFreeScorer::AddLabel(int source, const logparse::ParsedLine& parsed,
                               const logparse::Drain& drain, int32_t template_id, int label) {
  Source& s = sources_[static_cast<size_t>(source)];
  s.builder->Build(parsed, drain, template_id, &event_);
  s.scorer->AddLabel(s.scorer->Peek(event_, s.lines), label);
}

void LabelFreeScorer::ClearLabels() {
  for (Source& s : sources_) s.scorer->ClearLabels();
}

}  // namespace fedlog::client::detect
