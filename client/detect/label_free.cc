#include "client/detect/label_free.h"

#include "common/base/status_macros.h"

namespace fedlog::client::detect {

absl::StatusOr<std::unique_ptr<LabelFreeScorer>> LabelFreeScorer::Create(
    const novelty::NoveltyOptions& options,
    const std::vector<std::vector<std::string>>& field_names) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  auto out = std::make_unique<LabelFreeScorer>();
  for (const auto& names : field_names) {
    Source s;
    FEDLOG_ASSIGN_OR_RETURN(s.builder, novelty::EventBuilder::Create({}, names));
    s.scorer = std::make_unique<novelty::NoveltyScorer>(options);
    out->sources_.push_back(std::move(s));
  }
  return out;
}

novelty::LineScore LabelFreeScorer::Score(int source, const logparse::ParsedLine& parsed,
                                          const logparse::Drain& drain, int32_t template_id) {
  Source& s = sources_[static_cast<size_t>(source)];
  s.builder->Build(parsed, drain, template_id, &event_);
  return s.scorer->ScoreAndLearn(event_, s.lines++);
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
