// Line-level ground truth of the BGL and Thunderbird logs: the first whitespace-separated token of
// every raw line is "-" for a normal line and the alert category otherwise (e.g. "KERNDTLB",
// "APPSEV"). Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_LABELS_ALERT_TAGS_H_
#define FEDLOG_COMMON_LABELS_ALERT_TAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/labels/label.h"

namespace fedlog::labels {

struct AlertTaggedLine {
  int64_t line_number = 0;  // 1-based
  bool alert = false;
  std::string category;  // empty for normal lines
  std::string message;   // the raw log line without its tag, as the site would see it
};

// Splits one raw line into tag and message. InvalidArgument for a blank line or a tag without a
// message.
absl::StatusOr<AlertTaggedLine> ParseAlertTaggedLine(absl::string_view line);

// Every line of a BGL / Thunderbird log. A trailing newline is fine; a blank or tag-only line is an
// InvalidArgument naming its line number.
absl::StatusOr<std::vector<AlertTaggedLine>> ParseAlertTaggedLog(absl::string_view text);
absl::StatusOr<std::vector<AlertTaggedLine>> ReadAlertTaggedLog(const std::string& path);

// Alert counts per category (normal lines are not counted).
std::map<std::string, int64_t> CountAlertCategories(absl::Span<const AlertTaggedLine> lines);

// The line's label with provenance ground_truth; the anomaly type is the alert category.
Label ToLabel(const AlertTaggedLine& line);

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_ALERT_TAGS_H_
