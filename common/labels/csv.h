// A small RFC 4180 CSV reader for label files: comma-separated, fields optionally wrapped in double
// quotes, a doubled quote ("") inside a quoted field is one quote, quoted fields may hold commas
// and newlines. A quote inside an unquoted field is kept literally (as Python's csv module does).
// The first record is the header; blank lines are skipped; CRLF line ends and a UTF-8 byte-order
// mark are accepted. Thread-safety: pure functions; CsvTable is thread-compatible.
#ifndef FEDLOG_COMMON_LABELS_CSV_H_
#define FEDLOG_COMMON_LABELS_CSV_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedlog::labels {

struct CsvRow {
  int64_t line = 0;  // 1-based physical line where the record starts
  std::vector<std::string> fields;
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRow> rows;

  // Position of the column named `name` (exact match). NotFound names the missing column.
  absl::StatusOr<size_t> Column(absl::string_view name) const;
};

// InvalidArgument, with the line number, for an unterminated quoted field, a character other than a
// comma or line end after a closing quote, a record whose field count differs from the header's, or
// empty input.
absl::StatusOr<CsvTable> ParseCsv(absl::string_view text);

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_CSV_H_
