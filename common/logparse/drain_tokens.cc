// Drain: splitting content into tokens and deciding which tokens are parameters (masks, numbers, keys,
// dotted names, quoted values).
#include <algorithm>

#include "absl/strings/ascii.h"
#include "common/logparse/drain.h"
#include "common/logparse/drain_internal.h"
#include "re2/re2.h"

namespace fedlog::logparse {

using internal::IsDigit;
using internal::kWildHash;

namespace {

// Three or more dot-separated parts of letters, digits, '_', '$' or '-', or 4+ hex digits.
bool IsDottedName(std::string_view v) {
  int dots = 0;
  bool hex_only = v.size() >= 4;
  size_t part = 0;
  for (char c : v) {
    if (c == '.') {
      if (part == 0) return false;
      ++dots;
      part = 0;
      hex_only = false;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c);
    if (!alnum && c != '_' && c != '$' && c != '-') return false;
    hex_only &= IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    ++part;
  }
  return (dots >= 2 && part > 0) || hex_only;
}

// Weekday and month abbreviations ("Mon", "Jun") are parts of dates and size units ("KB") parts of sizes,
// hence parameters like the numbers they come with.
bool IsCalendarWord(std::string_view t) {
  if (t.size() > 3) return false;
  if (t == "B" || t == "KB" || t == "kB" || t == "MB" || t == "GB" || t == "TB" || t == "KiB" || t == "MiB" ||
      t == "GiB" || t == "ms" || t == "sec") {
    return true;
  }
  if (t.size() != 3) return false;
  static constexpr std::string_view kWords[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb",
                                                "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                                "Dec"};
  for (std::string_view w : kWords) {
    if (t == w) return true;
  }
  return false;
}

}  // namespace

void Drain::Tokenize(std::string_view content) {
  tokens_.clear();
  if (!regexes_.empty()) {
    rewritten_.assign(content.data(), content.size());
    for (size_t i = 0; i < regexes_.size(); ++i) {
      re2::RE2::GlobalReplace(&rewritten_, *regexes_[i], options_.regex_masks[i].replacement);
    }
    content = rewritten_;
  }
  const size_t n = content.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && delimiter_[static_cast<unsigned char>(content[i])]) ++i;
    const size_t start = i;
    bool quote_open = false;  // key="a value with spaces" is one token (logfmt style)
    bool quoted = false;
    while (i < n) {
      const char c = content[i];
      if (c == '"' && options_.quoted_values && i > start && (quote_open || content[i - 1] == '=')) {
        quote_open = !quote_open;
        quoted = true;
      } else if (delimiter_[static_cast<unsigned char>(c)] && (!quote_open || i - start > 256)) {
        break;
      }
      ++i;
    }
    if (i > start) AddToken(content.substr(start, i - start), quoted);
  }
}

void Drain::AddToken(std::string_view text, bool quoted) {
  // One pass computes the hash and the character classes that decide which scanners can apply.
  uint64_t h = 0xcbf29ce484222325ull;
  bool digit = false, slash = false, dot_or_eq = false;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
    digit |= IsDigit(static_cast<char>(c));
    slash |= c == '/' || c == '\\';
    dot_or_eq |= c == '.' || c == '=';
  }
  Token t{text, h, MaskKind::kNone, 0, static_cast<uint16_t>(std::min<size_t>(text.size(), 65535))};
  if (!regexes_.empty() && text.find('<') != std::string_view::npos &&
      (IsPlaceholder(text) || text.find("<*>") != std::string_view::npos)) {
    t.kind = text == "<*>" ? MaskKind::kWildcard : MaskKind::kRegex;  // masked by a user regex
  } else if (digit || slash) {
    TokenCore core = FindCore(text);
    MaskKind kind = ClassifyCore(text.substr(core.begin, core.end - core.begin), options_.masks);
    if (kind != MaskKind::kNone && core.begin < 65535 && core.end - core.begin < 65535) {
      t.kind = kind;
      t.core_begin = static_cast<uint16_t>(core.begin);
      t.core_len = static_cast<uint16_t>(core.end - core.begin);
      t.hash = TokenHash(text.substr(core.end), TokenHash(MaskPlaceholder(kind), TokenHash(text.substr(0, core.begin))));
    } else if (digit && options_.parametrize_numeric_tokens) {
      ParametrizeNumeric(&t);
    }
  } else if (options_.parametrize_numeric_tokens && text.size() <= 5 &&
             IsCalendarWord(text.substr(0, FindCore(text).end))) {
    t.kind = MaskKind::kWildcard;
    t.hash = kWildHash;
  } else if (options_.mask_dotted_names && dot_or_eq) {
    ParametrizeWordValue(&t);
  }
  if (quoted) {
    // A quoted value may hold delimiters, which a template word must not: whatever the scanners made of the
    // token, the quoted value is the parameter.
    const size_t eq = text.find("=\"");
    if (eq != std::string_view::npos) {
      const size_t end = FindCore(text).end;
      MakeKeyed(&t, eq + 2, end > eq + 2 ? end : text.size());
    } else {
      t.kind = MaskKind::kWildcard;
      t.hash = kWildHash;
      t.keyed = false;
      t.core_begin = 0;
      t.core_len = static_cast<uint16_t>(std::min<size_t>(text.size(), 65535));
    }
  }
  if (t.kind == MaskKind::kNone && dot_or_eq) t.keyed_hash = KeyedHash(text);
  tokens_.push_back(t);
}

// Digit-free values: dotted names ("com.android.phone", "a.b.c") and, after "key=", runs of 4+ hex digits
// ("mask=ffffffff"). Dotted names are values in message text; class names live in the header's component.
void Drain::ParametrizeWordValue(Token* t) const {
  const TokenCore core = FindCore(t->text);
  size_t eq = t->text.find('=');
  if (options_.quoted_values && eq != std::string_view::npos && eq + 1 < t->text.size() && t->text[eq + 1] == '"') {
    if (eq + 2 <= core.end) MakeKeyed(t, eq + 2, core.end);  // tag="View Lock", -> tag="<*>",
    return;
  }
  size_t start = (eq != std::string_view::npos && eq < core.end) ? eq + 1 : core.begin;
  if (start >= core.end) return;
  const std::string_view value = t->text.substr(start, core.end - start);
  if (!IsDottedName(value)) return;
  if (start == 0 || start == core.begin) {
    t->kind = MaskKind::kWildcard;
    t->hash = kWildHash;
    return;
  }
  MakeKeyed(t, start, core.end);
}

// "name=android," -> hash of "name=<*>,", the form the token takes when its value is a parameter; 0 when
// the token is no key=value pair.
uint64_t Drain::KeyedHash(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return 0;
  size_t p = eq + 1;
  if (p < text.size() && text[p] == '"') ++p;
  size_t end = FindCore(text).end;
  if (end <= p) end = text.size();
  if (end <= p) return 0;
  return TokenHash(text.substr(end), TokenHash("<*>", TokenHash(text.substr(0, p))));
}

void Drain::MakeKeyed(Token* t, size_t p, size_t end) const {
  t->kind = MaskKind::kWildcard;
  t->keyed = true;
  t->core_begin = static_cast<uint16_t>(std::min<size_t>(p, 65535));
  t->core_len = static_cast<uint16_t>(std::min<size_t>(end - p, 65535));
  t->hash = TokenHash(t->text.substr(end), TokenHash("<*>", TokenHash(t->text.substr(0, p))));
}

// "uid=0" -> "uid=<*>", "node-246" -> "node-<*>": a name before a separator stays literal, so keys of
// key=value pairs keep events apart; a token without such a name ("test9", "2005") is "<*>" whole.
void Drain::ParametrizeNumeric(Token* t) const {
  t->kind = MaskKind::kWildcard;
  t->hash = kWildHash;
  size_t p = 0;
  bool letter = false;
  while (p < t->text.size() && !IsDigit(t->text[p])) {
    const char c = t->text[p];
    letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    ++p;
  }
  if (p >= 2 && (t->text[p - 1] == '-' || t->text[p - 1] == '+') &&
      (t->text[p - 2] == '=' || t->text[p - 2] == ':')) {
    --p;  // "Translation=-5": the sign belongs to the value
  }
  const size_t eq = t->text.find('=');
  if (eq != std::string_view::npos && eq > 0 && eq < p) {
    // key=value: the whole value is the parameter ("oldVal=c0000700", "ws=WorkSource{10113}").
    p = eq + 1;
    if (p < t->text.size() && t->text[p] == '"') ++p;
    letter = false;
    for (size_t k = 0; k < eq; ++k) letter |= absl::ascii_isalpha(static_cast<unsigned char>(t->text[k]));
  }
  if (p == 0 || !letter || p > 64) return;
  const char sep = t->text[p - 1];
  if (sep == ':' && std::count(t->text.begin(), t->text.begin() + static_cast<int64_t>(p), '.') >= 2) {
    return;  // "host.example.org:5070": a host and port, a value as a whole
  }
  if (sep != '=' && sep != ':' && sep != '-' && sep != '.' && sep != '#' && sep != '@') return;
  size_t end = FindCore(t->text).end;  // closing brackets and punctuation stay literal: "(uid=<*>)"
  if (end <= p) end = t->text.size();
  MakeKeyed(t, p, end);
}

}  // namespace fedlog::logparse
