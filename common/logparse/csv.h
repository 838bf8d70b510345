// RFC 4180 CSV reading (quoted fields with commas, doubled quotes and newlines), used for loghub's ground-truth
// files. Thread-safe: pure functions.
#ifndef FEDLOG_COMMON_LOGPARSE_CSV_H_
#define FEDLOG_COMMON_LOGPARSE_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::logparse {

using CsvRow = std::vector<std::string>;

// All records of `data` (a trailing newline does not make an empty record; CRLF is accepted).
// InvalidArgument for an unterminated quoted field.
absl::StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view data);

// A field quoted when it needs to be (comma, quote, CR or LF inside).
std::string CsvEscape(std::string_view field);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_CSV_H_
