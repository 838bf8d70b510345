// LineParser turns a raw log line into a ParsedLine (header fields, level, component, time, content).
// Implementations: the 16 loghub formats and user-defined format strings (format_pattern.h), syslog
// (RFC 3164 and RFC 5424) and JSON lines. A line no header matches is never dropped: it comes back with
// matched == false and the whole line as content; ParseStats counts such lines.
// Thread-safe after construction: Parse is const and keeps no state, so one parser may serve many threads,
// each with its own ParsedLine.
#ifndef FEDLOG_COMMON_LOGPARSE_LINE_PARSER_H_
#define FEDLOG_COMMON_LOGPARSE_LINE_PARSER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logparse/parsed_line.h"

namespace fedlog::logparse {

struct ParserOptions {
  // Year for formats whose timestamps have none (Linux, Mac, OpenSSH, Android, Proxifier, RFC 3164).
  // 0 means the current UTC year at parser creation.
  int default_year = 0;
  // Custom formats ("format:..."): the time pattern (time_parse.h) applied to the named time fields joined with
  // single spaces. When time_fields is empty, the fields named Date, Month, Day, Time, Timestamp are used in
  // format order. No pattern: lines of a custom format carry no time.
  std::string time_pattern;
  std::vector<std::string> time_fields;
  std::string level_field = "Level";          // custom formats
  std::string component_field = "Component";  // custom formats
  // JSON lines: the first present key of each list is used.
  std::vector<std::string> json_message_fields = {"message", "msg", "log", "MESSAGE"};
  std::vector<std::string> json_time_fields = {"timestamp", "time", "@timestamp", "ts", "t"};
  std::vector<std::string> json_level_fields = {"level", "severity", "lvl", "PRIORITY"};
  std::vector<std::string> json_component_fields = {"logger", "component", "module", "source"};
};

class LineParser {
 public:
  virtual ~LineParser() = default;
  // Parses `line` (without its newline; a trailing '\r' is removed) into `out`, which it resets first.
  // Never fails; see matched.
  virtual void Parse(std::string_view line, ParsedLine* out) const = 0;
  // Names of ParsedLine::fields in order, e.g. {"Date", "Time", "Pid", "Level", "Component", "Content"}.
  virtual const std::vector<std::string>& field_names() const = 0;
  // The name it was created from, e.g. "HDFS", "syslog", "jsonl", "format:<Time> <Content>".
  virtual const std::string& name() const = 0;
};

// A built-in format: a loghub-style header and how to read its time.
struct BuiltinFormat {
  const char* name;             // "HDFS"
  const char* format;           // "<Date> <Time> <Pid> <Level> <Component>: <Content>"
  const char* time_fields;      // space-separated field names joined for the time pattern: "Date Time"
  const char* time_pattern;     // "yyMMdd HHmmss"
  const char* level_field;      // "" when the format has no level
  const char* component_field;  // "" when the format has no component
};

// The 16 loghub sources, in alphabetical order.
const std::vector<BuiltinFormat>& BuiltinFormats();
// Case-insensitive lookup of a built-in format; nullptr when unknown.
const BuiltinFormat* FindBuiltinFormat(std::string_view name);
// Every name CreateLineParser accepts besides "format:...": the built-ins plus the syslog and JSON parsers.
std::vector<std::string> KnownParserNames();

// Creates a parser from a name:
//   one of the 16 loghub names (case-insensitive)   e.g. "HDFS", "openssh"
//   "syslog" (RFC 3164 or 5424, detected per line), "rfc3164", "rfc5424"
//   "jsonl" / "json"                                 JSON lines, keys from options
//   "format:<FORMAT STRING>"                         a user format string, time from options.time_pattern
// NotFound for an unknown name, InvalidArgument for a bad format string or time pattern.
absl::StatusOr<std::unique_ptr<LineParser>> CreateLineParser(std::string_view name,
                                                             const ParserOptions& options = {});

// Strips a trailing "\r" (CRLF files) so every parser sees the same line.
inline std::string_view StripCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_LINE_PARSER_H_
