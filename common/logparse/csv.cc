#include "common/logparse/csv.h"

#include "absl/strings/str_cat.h"

namespace fedlog::logparse {

absl::StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view data) {
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  size_t i = 0;
  const size_t n = data.size();
  bool row_open = false;
  while (i < n) {
    row_open = true;
    if (data[i] == '"') {
      const size_t start = i++;
      while (true) {
        if (i >= n) return absl::InvalidArgumentError(absl::StrCat("csv: unterminated quote at byte ", start));
        if (data[i] == '"') {
          if (i + 1 < n && data[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(data[i++]);
      }
    }
    while (i < n && data[i] != ',' && data[i] != '\n' && data[i] != '\r') field.push_back(data[i++]);
    row.push_back(std::move(field));
    field.clear();
    if (i < n && data[i] == ',') {
      ++i;
      if (i == n) row.emplace_back();
      continue;
    }
    if (i < n && data[i] == '\r') ++i;
    if (i < n && data[i] == '\n') ++i;
    rows.push_back(std::move(row));
    row.clear();
    row_open = false;
  }
  if (row_open && !row.empty()) rows.push_back(std::move(row));
  return rows;
}

std::string CsvEscape(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace fedlog::logparse
