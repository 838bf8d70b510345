#include "common/labels/alert_tags.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::labels {

absl::StatusOr<AlertTaggedLine> ParseAlertTaggedLine(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
  if (trimmed.empty()) return absl::InvalidArgumentError("blank line has no alert tag");
  size_t end = 0;
  while (end < trimmed.size() && !absl::ascii_isspace(trimmed[end])) ++end;
  const absl::string_view tag = trimmed.substr(0, end);
  const absl::string_view message = absl::StripLeadingAsciiWhitespace(trimmed.substr(end));
  if (message.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag \"", tag, "\" is not followed by a message"));
  }
  AlertTaggedLine out;
  out.alert = tag != "-";
  if (out.alert) out.category = std::string(tag);
  out.message = std::string(message);
  return out;
}

absl::StatusOr<std::vector<AlertTaggedLine>> ParseAlertTaggedLog(absl::string_view text) {
  std::vector<AlertTaggedLine> lines;
  int64_t number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = text.size();
    ++number;
    absl::StatusOr<AlertTaggedLine> parsed = ParseAlertTaggedLine(text.substr(start, end - start));
    if (!parsed.ok()) return Annotate(parsed.status(), absl::StrCat("line ", number));
    parsed->line_number = number;
    lines.push_back(*std::move(parsed));
    start = end + 1;
  }
  return lines;
}

absl::StatusOr<std::vector<AlertTaggedLine>> ReadAlertTaggedLog(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::vector<AlertTaggedLine>> lines = ParseAlertTaggedLog(text);
  if (!lines.ok()) return Annotate(lines.status(), path);
  return lines;
}

std::map<std::string, int64_t> CountAlertCategories(absl::Span<const AlertTaggedLine> lines) {
  std::map<std::string, int64_t> counts;
  for (const AlertTaggedLine& l : lines) {
    if (l.alert) ++counts[l.category];
  }
  return counts;
}

Label ToLabel(const AlertTaggedLine& line) { return GroundTruthLabel(line.alert, line.category); }

}  // namespace fedlog::labels
