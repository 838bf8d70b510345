#include "common/logparse/format_pattern.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace fedlog::logparse {
namespace {

constexpr int kMatchBudget = 256;  // backtracking steps per alternative; loghub headers need a handful

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// One parsed piece of a format string before optional groups are expanded.
struct Piece {
  int kind;  // 0 literal, 1 space, 2 field
  std::string text;
  int field = -1;
  int group = -1;  // optional group the piece belongs to, -1 when always present
};

absl::Status ParsePieces(std::string_view f, std::vector<Piece>* pieces, std::vector<std::string>* names,
                         int* num_groups) {
  int group = -1;
  for (size_t i = 0; i < f.size();) {
    char c = f[i];
    if (c == '<') {
      size_t end = f.find('>', i);
      if (end == std::string_view::npos || end == i + 1) {
        return absl::InvalidArgumentError(absl::StrCat("format: unterminated or empty field at ", i));
      }
      std::string name(f.substr(i + 1, end - i - 1));
      for (const std::string& n : *names) {
        if (n == name) return absl::InvalidArgumentError("format: duplicate field <" + name + ">");
      }
      if (static_cast<int>(names->size()) == kMaxFields) {
        return absl::InvalidArgumentError(absl::StrCat("format: more than ", kMaxFields, " fields"));
      }
      pieces->push_back({2, "", static_cast<int>(names->size()), group});
      names->push_back(std::move(name));
      i = end + 1;
    } else if (c == '(') {
      if (group >= 0) return absl::InvalidArgumentError("format: nested optional groups are not supported");
      group = (*num_groups)++;
      ++i;
    } else if (c == ')' && i + 1 < f.size() && f[i + 1] == '?' && group >= 0) {
      group = -1;
      i += 2;
    } else if (IsSpace(c)) {
      while (i < f.size() && IsSpace(f[i])) ++i;
      pieces->push_back({1, "", -1, group});
    } else {
      if (c == '\\') {
        if (++i == f.size()) return absl::InvalidArgumentError("format: trailing backslash");
      }
      pieces->push_back({0, std::string(1, f[i]), -1, group});
      ++i;
    }
  }
  if (group >= 0) return absl::InvalidArgumentError("format: '(' without a closing ')?'");
  if (names->empty()) return absl::InvalidArgumentError("format: no <Field>");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FormatPattern> FormatPattern::Compile(std::string_view format) {
  FormatPattern fp;
  fp.format_ = std::string(format);
  std::vector<Piece> pieces;
  int num_groups = 0;
  if (absl::Status s = ParsePieces(format, &pieces, &fp.names_, &num_groups); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(s.message(), " in '", std::string(format), "'"));
  }
  if (num_groups > 4) return absl::InvalidArgumentError("format: more than 4 optional groups");
  const int combos = 1 << num_groups;
  for (int absent = 0; absent < combos; ++absent) {  // absent == 0: every group present, tried first
    Alternative alt;
    for (const Piece& p : pieces) {
      if (p.group >= 0 && (absent & (1 << p.group))) continue;
      Kind kind = p.kind == 0 ? Kind::kLiteral : p.kind == 1 ? Kind::kSpace : Kind::kField;
      if (!alt.empty() && alt.back().kind == kind && kind != Kind::kField) {
        if (kind == Kind::kLiteral) alt.back().literal += p.text;
        continue;  // adjacent literals join; adjacent spaces are one space
      }
      if (!alt.empty() && alt.back().kind == Kind::kField && kind == Kind::kField) {
        return absl::InvalidArgumentError(absl::StrCat("format: adjacent fields in '", std::string(format), "'"));
      }
      alt.push_back({kind, p.field, p.text});
    }
    fp.alternatives_.push_back(std::move(alt));
  }
  return fp;
}

int FormatPattern::FieldIndex(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

bool FormatPattern::Match(std::string_view line, std::array<std::string_view, kMaxFields>* fields) const {
  for (const Alternative& alt : alternatives_) {
    for (size_t i = 0; i < names_.size(); ++i) (*fields)[i] = {};
    int budget = kMatchBudget;
    if (MatchFrom(alt, 0, line, 0, fields, &budget)) return true;
  }
  return false;
}

bool FormatPattern::MatchFrom(const Alternative& alt, size_t i, std::string_view line, size_t pos,
                              std::array<std::string_view, kMaxFields>* fields, int* budget) const {
  for (; i < alt.size(); ++i) {
    const Elem& e = alt[i];
    if (e.kind == Kind::kField) return MatchField(alt, i, line, pos, fields, budget);
    if (e.kind == Kind::kSpace) {
      if (pos >= line.size() || !IsSpace(line[pos])) return false;
      while (pos < line.size() && IsSpace(line[pos])) ++pos;
    } else {
      if (line.compare(pos, e.literal.size(), e.literal) != 0) return false;
      pos += e.literal.size();
    }
  }
  return pos == line.size();
}

bool FormatPattern::MatchField(const Alternative& alt, size_t i, std::string_view line, size_t pos,
                               std::array<std::string_view, kMaxFields>* fields, int* budget) const {
  const int field = alt[i].field;
  if (i + 1 == alt.size()) {  // the last field takes the rest of the line
    (*fields)[field] = line.substr(pos);
    return true;
  }
  const Elem& next = alt[i + 1];
  size_t q = pos + 1;  // fields are never empty
  while (q <= line.size() && --*budget > 0) {
    if (next.kind == Kind::kSpace) {
      while (q < line.size() && !IsSpace(line[q])) ++q;
      if (q >= line.size()) return false;
    } else {
      q = line.find(next.literal, q);
      if (q == std::string_view::npos) return false;
    }
    (*fields)[field] = line.substr(pos, q - pos);
    if (MatchFrom(alt, i + 1, line, q, fields, budget)) return true;
    if (next.kind == Kind::kSpace) {
      while (q < line.size() && IsSpace(line[q])) ++q;  // a shorter space run cannot help
    } else {
      ++q;
    }
  }
  return false;
}

}  // namespace fedlog::logparse
