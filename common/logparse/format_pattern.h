// Loghub-style header format strings, e.g. HDFS "<Date> <Time> <Pid> <Level> <Component>: <Content>".
//
// Syntax: `<Name>` is a field (non-empty, shortest match first, like loghub's `(?P<Name>.*?)`); a run of spaces
// matches one or more spaces or tabs; `\x` is the literal character x (so loghub's `\[` and `\|` work);
// `( ... )?` is an optional group (tried present first); every other character matches itself. The last field
// takes the rest of the line. Matching backtracks over field ends with a fixed step budget, so a hostile
// 1 MB line costs linear time. Thread-safe after construction: Match is const and allocation-free.
#ifndef FEDLOG_COMMON_LOGPARSE_FORMAT_PATTERN_H_
#define FEDLOG_COMMON_LOGPARSE_FORMAT_PATTERN_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logparse/parsed_line.h"

namespace fedlog::logparse {

class FormatPattern {
 public:
  // InvalidArgument for unbalanced `<`/`(`, adjacent fields, duplicate names or more than kMaxFields fields.
  static absl::StatusOr<FormatPattern> Compile(std::string_view format);

  // Fills fields[i] (in field_names() order) when the whole line matches; false otherwise. Fields of an absent
  // optional group are empty.
  bool Match(std::string_view line, std::array<std::string_view, kMaxFields>* fields) const;

  const std::vector<std::string>& field_names() const { return names_; }
  // Index of `name` in field_names(), or -1.
  int FieldIndex(std::string_view name) const;
  const std::string& format() const { return format_; }

 private:
  enum class Kind : uint8_t { kLiteral, kSpace, kField };
  struct Elem {
    Kind kind;
    int field = -1;       // kField
    std::string literal;  // kLiteral
  };
  using Alternative = std::vector<Elem>;

  bool MatchFrom(const Alternative& alt, size_t i, std::string_view line, size_t pos,
                 std::array<std::string_view, kMaxFields>* fields, int* budget) const;
  bool MatchField(const Alternative& alt, size_t i, std::string_view line, size_t pos,
                  std::array<std::string_view, kMaxFields>* fields, int* budget) const;

  std::string format_;
  std::vector<std::string> names_;
  std::vector<Alternative> alternatives_;  // one per combination of optional groups, "present" first
};

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_FORMAT_PATTERN_H_
