// Reading log files as lines. Files are read whole (plain or gzip, detected by magic bytes) and split on '\n';
// a final line without a newline is kept, a trailing '\r' is left for the parsers (StripCr) to drop, and empty
// lines are lines too, so line numbers match `nl -ba`. Thread-safe: no shared state.
#ifndef FEDLOG_COMMON_LOGPARSE_LINE_READER_H_
#define FEDLOG_COMMON_LOGPARSE_LINE_READER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::logparse {

// The whole file, gunzipped when it starts with the gzip magic. NotFound / DataLoss (corrupt gzip) on error.
absl::StatusOr<std::string> ReadLogFile(const std::string& path);

// Calls fn(line) for each line of `data` in order; returns the number of lines.
template <typename Fn>
int64_t ForEachLine(std::string_view data, Fn&& fn) {
  int64_t n = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t end = data.find('\n', pos);
    if (end == std::string_view::npos) end = data.size();
    fn(data.substr(pos, end - pos));
    ++n;
    pos = end + 1;
  }
  return n;
}

// The lines of `data` as views into it.
std::vector<std::string_view> SplitLines(std::string_view data);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_LINE_READER_H_
