#include "common/logparse/masks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace fedlog::logparse {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Reads digits at *i; returns how many.
size_t Digits(std::string_view s, size_t* i) {
  size_t start = *i;
  while (*i < s.size() && IsDigit(s[*i])) ++*i;
  return *i - start;
}

bool IsBlk(std::string_view s) {
  if (s.size() < 5 || s.substr(0, 4) != "blk_") return false;
  size_t i = 4;
  if (s[i] == '-') ++i;
  return Digits(s, &i) > 0 && i == s.size();
}

// a.b.c.d with 1-3 digit parts, optional leading '/', optional ":port".
bool IsIp(std::string_view s) {
  size_t i = (!s.empty() && s[0] == '/') ? 1 : 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    size_t n = Digits(s, &i);
    if (n == 0 || n > 3) return false;
  }
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (Digits(s, &i) == 0) return false;
  }
  return i == s.size();
}

// 0x-prefixed hex, or a bare run of at least 8 hex digits mixing digits and letters (ids, hashes, UUID parts).
bool IsHex(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    for (size_t i = 2; i < s.size(); ++i) {
      if (!IsHexDigit(s[i])) return false;
    }
    return true;
  }
  if (s.size() < 8) return false;
  bool digit = false, letter = false;
  for (char c : s) {
    if (c == '-') continue;
    if (!IsHexDigit(c)) return false;
    (IsDigit(c) ? digit : letter) = true;
  }
  return digit && letter;
}

// -12, +3, 4.5, 1e10, 1,234 and a unit-free percentage sign at the end.
bool IsNum(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (Digits(s, &i) == 0) return false;
  while (i < s.size() && (s[i] == '.' || s[i] == ',') && i + 1 < s.size() && IsDigit(s[i + 1])) {
    ++i;
    Digits(s, &i);
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E') && i + 1 < s.size() && IsDigit(s[i + 1])) {
    ++i;
    Digits(s, &i);
  }
  if (i < s.size() && s[i] == '%') ++i;
  return i == s.size();
}

// "/a/b", "./x", "~/x", "C:\dir\file": a separator-led name with at least one more character.
bool IsPath(std::string_view s) {
  if (s.size() >= 2 && s[0] == '/' && s[1] != '/') return true;
  if (s.size() >= 3 && (s.substr(0, 2) == "./" || s.substr(0, 2) == "~/")) return true;
  return s.size() >= 4 && absl::ascii_isalpha(static_cast<unsigned char>(s[0])) && s[1] == ':' &&
         s[2] == '\\';
}

bool IsLeadPunct(char c) { return c == '(' || c == '[' || c == '{' || c == '<' || c == '\'' || c == '"'; }
bool IsTrailPunct(char c) {
  return c == ')' || c == ']' || c == '}' || c == '>' || c == ',' || c == ';' || c == ':' || c == '.' ||
         c == '\'' || c == '"';
}

}  // namespace

std::string_view MaskPlaceholder(MaskKind kind) {
  switch (kind) {
    case MaskKind::kBlk: return "<BLK>";
    case MaskKind::kIp: return "<IP>";
    case MaskKind::kHex: return "<HEX>";
    case MaskKind::kNum: return "<NUM>";
    case MaskKind::kPath: return "<PATH>";
    case MaskKind::kWildcard: return "<*>";
    case MaskKind::kRegex: return "<*>";
    case MaskKind::kNone: break;
  }
  return "";
}

absl::StatusOr<uint32_t> ParseMaskList(std::string_view list) {
  uint32_t bits = 0;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(list.data(), list.size()), ',')) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(raw));
    if (name.empty() || name == "none") continue;
    if (name == "all") bits |= kAllMasks;
    else if (name == "blk") bits |= kMaskBlk;
    else if (name == "ip") bits |= kMaskIp;
    else if (name == "hex") bits |= kMaskHex;
    else if (name == "num") bits |= kMaskNum;
    else if (name == "path") bits |= kMaskPath;
    else return absl::InvalidArgumentError("unknown mask '" + name + "' (known: blk, ip, hex, num, path, all)");
  }
  return bits;
}

TokenCore FindCore(std::string_view t) {
  TokenCore c{0, t.size()};
  while (c.begin < c.end && IsLeadPunct(t[c.begin])) ++c.begin;
  while (c.end > c.begin && IsTrailPunct(t[c.end - 1])) --c.end;
  return c;
}

MaskKind ClassifyCore(std::string_view core, uint32_t enabled) {
  if (core.empty()) return MaskKind::kNone;
  if ((enabled & kMaskBlk) && core[0] == 'b' && IsBlk(core)) return MaskKind::kBlk;
  if ((enabled & kMaskIp) && IsIp(core)) return MaskKind::kIp;
  if ((enabled & kMaskHex) && IsHex(core)) return MaskKind::kHex;
  if ((enabled & kMaskNum) && IsNum(core)) return MaskKind::kNum;
  if ((enabled & kMaskPath) && IsPath(core)) return MaskKind::kPath;
  return MaskKind::kNone;
}

bool IsPlaceholder(std::string_view s) {
  if (s.size() < 3 || s.front() != '<' || s.back() != '>') return false;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    const char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '*')) return false;
  }
  return true;
}

}  // namespace fedlog::logparse
