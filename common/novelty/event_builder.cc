#include "common/novelty/event_builder.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"

namespace fedlog::novelty {

absl::StatusOr<std::unique_ptr<EventBuilder>> EventBuilder::Create(
    const EventOptions& options, const std::vector<std::string>& field_names) {
  std::unique_ptr<EventBuilder> b(new EventBuilder());
  for (const std::string& want : options.host_fields) {
    for (size_t i = 0; i < field_names.size() && b->host_field_ < 0; ++i) {
      if (field_names[i] == want) b->host_field_ = static_cast<int>(i);
    }
    if (b->host_field_ >= 0) break;
  }
  if (!options.session_pattern.empty()) {
    b->session_ = std::make_unique<re2::RE2>(options.session_pattern, re2::RE2::Quiet);
    if (!b->session_->ok() || b->session_->NumberOfCapturingGroups() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "novelty: session pattern '", options.session_pattern,
          "' is not a valid RE2 with at most one capture group: ", b->session_->error()));
    }
  }
  return b;
}

EventBuilder::~EventBuilder() = default;

bool EventBuilder::SessionOf(std::string_view content, uint64_t* session) const {
  if (session_ == nullptr) return false;
  re2::StringPiece input(content.data(), content.size());
  re2::StringPiece match;
  bool found;
  if (session_->NumberOfCapturingGroups() == 1) {
    found = re2::RE2::PartialMatch(input, *session_, &match);
  } else {
    found = session_->Match(input, 0, input.size(), re2::RE2::UNANCHORED, &match, 1);
  }
  if (!found) return false;
  *session = logparse::TokenHash(std::string_view(match.data(), match.size()));
  return true;
}

void EventBuilder::Build(const logparse::ParsedLine& parsed, const logparse::Drain& drain,
                         int32_t template_id, LineEvent* event) const {
  event->template_id = template_id;
  event->time_ms = parsed.time_ms == logparse::kNoTime ? -1 : parsed.time_ms;
  event->level = parsed.level;
  event->component = parsed.component;
  event->content = parsed.content;
  event->host = host_field_ >= 0 && host_field_ < parsed.num_fields
                    ? parsed.fields[static_cast<size_t>(host_field_)]
                    : std::string_view();
  event->params.clear();
  if (template_id >= 0) drain.LastParameters(template_id, &event->params);
  event->has_session = false;
  if (session_ != nullptr) {
    event->has_session = SessionOf(parsed.content, &event->session);
  } else if (!event->host.empty()) {
    event->has_session = true;
    event->session = logparse::TokenHash(event->host);
  }
}

}  // namespace fedlog::novelty
