// EventBuilder: turns a parsed line and its Drain template into the LineEvent the label-free scorer
// reads (scorer.h): level, component, the host field and the session key of the source, and the
// template's parameter values. The session is the first match of `session_pattern` (e.g. an HDFS
// block id) or, without a pattern, the host: sequences are then followed per host.
// Thread-compatible: Build reuses the event's vectors; one builder per stream.
#ifndef FEDLOG_COMMON_NOVELTY_EVENT_BUILDER_H_
#define FEDLOG_COMMON_NOVELTY_EVENT_BUILDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logparse/drain.h"
#include "common/logparse/parsed_line.h"
#include "common/novelty/scorer.h"

namespace re2 {
class RE2;
}

namespace fedlog::novelty {

struct EventOptions {
  // Header fields tried, in order, for the host (the first the format has is used).
  std::vector<std::string> host_fields = {"Node", "Host", "Hostname", "Location", "User"};
  // RE2 with or without one capture group; its first match in the content is the session key.
  // Empty: the host is the session (no host: no session).
  std::string session_pattern;
};

class EventBuilder {
 public:
  // `field_names` are LineParser::field_names() of the stream's format. InvalidArgument for a pattern
  // RE2 rejects.
  static absl::StatusOr<std::unique_ptr<EventBuilder>> Create(
      const EventOptions& options, const std::vector<std::string>& field_names);
  ~EventBuilder();

  // Fills `event` for `parsed`, whose content Drain just returned `template_id` for (Add or Match);
  // the parameter views point into the line or Drain's buffer (valid until the next Add/Match).
  void Build(const logparse::ParsedLine& parsed, const logparse::Drain& drain, int32_t template_id,
             LineEvent* event) const;
  // The session key of `content` alone (pattern only); false when the pattern is empty or absent.
  bool SessionOf(std::string_view content, uint64_t* session) const;

 private:
  EventBuilder() = default;
  int host_field_ = -1;
  std::unique_ptr<re2::RE2> session_;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_EVENT_BUILDER_H_
