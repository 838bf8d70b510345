// The result of splitting one raw log line into its header fields and free-text content.
// Designed for throughput: every view points into the caller's line (or into `scratch` for values a parser had
// to rewrite, e.g. unescaped JSON strings), so parsing a line allocates nothing once `scratch` has grown.
// A ParsedLine is valid only while the line it was parsed from is alive and until it is parsed into again.
#ifndef FEDLOG_COMMON_LOGPARSE_PARSED_LINE_H_
#define FEDLOG_COMMON_LOGPARSE_PARSED_LINE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/logparse/time_parse.h"

namespace fedlog::logparse {

// The most named fields a format may have (loghub's widest, Thunderbird, has 11 plus Content).
inline constexpr int kMaxFields = 16;

struct ParsedLine {
  std::string_view line;       // the whole input line, without its trailing "\n" / "\r\n"
  int64_t time_ms = kNoTime;   // UTC epoch milliseconds, kNoTime when the line carries no readable time
  std::string_view level;      // e.g. "INFO"; empty when the format has none
  std::string_view component;  // e.g. "dfs.DataNode$PacketResponder"; empty when the format has none
  std::string_view content;    // the free-text message; the whole line when the header did not match
  bool matched = false;        // false: no header matched, `content` is the whole line
  int num_fields = 0;          // fields[0..num_fields) follow LineParser::field_names()
  std::array<std::string_view, kMaxFields> fields{};
  std::string scratch;         // backing store for rewritten values; reused across lines

  void Reset(std::string_view raw) {
    line = raw;
    time_ms = kNoTime;
    level = component = {};
    content = raw;
    matched = false;
    num_fields = 0;
  }
};

// Line and miss counts, so that lines no header matched are visible rather than dropped.
struct ParseStats {
  int64_t lines = 0;
  int64_t unmatched = 0;
  int64_t without_time = 0;
  void Add(const ParsedLine& p) {
    ++lines;
    unmatched += p.matched ? 0 : 1;
    without_time += p.time_ms == kNoTime ? 1 : 0;
  }
};

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_PARSED_LINE_H_
