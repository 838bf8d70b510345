#include "common/labels/csv.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fedlog::labels {
namespace {

// Walks the text one record at a time, tracking physical line numbers.
class CsvCursor {
 public:
  explicit CsvCursor(absl::string_view text) : text_(text) {}

  bool Done() const { return pos_ >= text_.size(); }
  int64_t line() const { return line_; }

  // Parses the record at the cursor into `fields` (empty for a blank line) and moves past its line
  // end.
  absl::Status NextRecord(std::vector<std::string>& fields) {
    fields.clear();
    if (AtLineEnd()) {
      SkipLineEnd();
      return absl::OkStatus();
    }
    while (true) {
      std::string field;
      if (text_[pos_] == '"') {
        absl::Status s = QuotedField(field);
        if (!s.ok()) return s;
      } else {
        while (!Done() && text_[pos_] != ',' && !AtLineEnd()) field += text_[pos_++];
      }
      fields.push_back(std::move(field));
      if (Done() || AtLineEnd()) break;
      ++pos_;  // the comma
      if (Done() || AtLineEnd()) {
        fields.emplace_back();  // trailing comma: one more empty field
        break;
      }
    }
    SkipLineEnd();
    return absl::OkStatus();
  }

 private:
  bool AtLineEnd() const {
    return !Done() && (text_[pos_] == '\n' ||
                       (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n'));
  }
  void SkipLineEnd() {
    if (Done()) return;
    pos_ += text_[pos_] == '\r' ? 2 : 1;
    ++line_;
  }

  absl::Status QuotedField(std::string& field) {
    const int64_t start_line = line_;
    ++pos_;  // opening quote
    while (true) {
      if (Done()) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", start_line, ": quoted field is never closed"));
      }
      const char c = text_[pos_++];
      if (c == '\n') ++line_;
      if (c != '"') {
        field += c;
        continue;
      }
      if (!Done() && text_[pos_] == '"') {
        field += '"';
        ++pos_;
        continue;
      }
      if (Done() || text_[pos_] == ',' || AtLineEnd()) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": unexpected '",
                                                     std::string(1, text_[pos_]),
                                                     "' after a closing quote"));
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

}  // namespace

absl::StatusOr<size_t> CsvTable::Column(absl::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  return absl::NotFoundError(absl::StrCat("CSV header has no column \"", name, "\""));
}

absl::StatusOr<CsvTable> ParseCsv(absl::string_view text) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  CsvCursor cursor(text);
  CsvTable table;
  std::vector<std::string> fields;
  while (!cursor.Done()) {
    const int64_t line = cursor.line();
    absl::Status s = cursor.NextRecord(fields);
    if (!s.ok()) return s;
    if (fields.empty()) continue;
    if (table.header.empty()) {
      table.header = std::move(fields);
      continue;
    }
    if (fields.size() != table.header.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", fields.size(),
                                                     " fields, header has ", table.header.size()));
    }
    table.rows.push_back(CsvRow{line, std::move(fields)});
  }
  if (table.header.empty()) return absl::InvalidArgumentError("CSV input is empty");
  return table;
}

}  // namespace fedlog::labels
