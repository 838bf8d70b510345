#include "common/novelty/severity.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>


namespace fedlog::novelty {
namespace {

struct Word {
  std::string_view text;
  double severity;
};

// Lower-case words; matched as whole words (letters only around them).
constexpr std::array<Word, 30> kContentWords = {{
    {"error", 0.6},       {"errors", 0.6},     {"fail", 0.6},         {"failed", 0.6},
    {"failure", 0.6},     {"failing", 0.6},    {"fatal", 0.6},        {"exception", 0.6},
    {"panic", 0.6},       {"abort", 0.6},      {"aborted", 0.6},      {"crash", 0.6},
    {"crashed", 0.6},     {"corrupt", 0.6},    {"corrupted", 0.6},    {"refused", 0.6},
    {"denied", 0.6},      {"unreachable", 0.6}, {"severed", 0.6},     {"timeout", 0.6},
    {"killed", 0.6},      {"critical", 0.6},   {"warn", 0.3},         {"warning", 0.3},
    {"retry", 0.3},       {"lost", 0.3},       {"unable", 0.3},       {"cannot", 0.3},
    {"invalid", 0.3},     {"interrupted", 0.3},
}};

bool IsLetter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Debian's Abseil has its own string_view: compare by hand.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool ContainsIgnoreCase(std::string_view text, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= text.size(); ++i) {
    if (EqualsIgnoreCase(text.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// The most words (runs of letters) a field report's message may have (IsFieldReport).
constexpr int kMaxFieldWords = 8;

bool ValueSeparator(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ':' || c == '=' ||
         c == ',';
}

// The message's last token (between separators) with the separators that end the message after it
// dropped; `begin` is where the token starts.
std::string_view LastToken(std::string_view content, size_t* begin) {
  size_t end = content.size();
  while (end > 0 && ValueSeparator(content[end - 1])) --end;
  size_t b = end;
  while (b > 0 && !ValueSeparator(content[b - 1])) --b;
  *begin = b;
  return content.substr(b, end - b);
}

// Decimal or hexadecimal digits with an optional 0x, at least one decimal digit.
bool IsBareValue(std::string_view tok) {
  if (tok.size() > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) tok.remove_prefix(2);
  if (tok.empty()) return false;
  bool digit = false;
  for (char c : tok) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return false;
    digit = digit || std::isdigit(static_cast<unsigned char>(c)) != 0;
  }
  return digit;
}

}  // namespace

double LevelSeverity(std::string_view level) {
  for (std::string_view w : {"FATAL", "CRITICAL", "CRIT", "EMERG", "EMERGENCY", "ALERT", "PANIC",
                             "SEVERE", "FAILURE"}) {
    if (EqualsIgnoreCase(level, w)) return 1.0;
  }
  if (EqualsIgnoreCase(level, "ERROR") || EqualsIgnoreCase(level, "ERR")) return 0.75;
  if (EqualsIgnoreCase(level, "WARN") || EqualsIgnoreCase(level, "WARNING")) return 0.35;
  return 0.0;
}

double ContentSeverity(std::string_view content) {
  double best = 0;
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && !IsLetter(content[i])) ++i;
    const size_t begin = i;
    while (i < content.size() && IsLetter(content[i])) ++i;
    if (i == begin || i - begin > 12) continue;
    const std::string_view word = content.substr(begin, i - begin);
    for (const Word& w : kContentWords) {
      if (w.severity > best && EqualsIgnoreCase(word, w.text)) best = w.severity;
    }
    if (best >= 0.6) break;
  }
  if (best < 0.3 && ContainsIgnoreCase(content, "not found")) best = 0.3;
  return best;
}

double LineSeverity(std::string_view level, std::string_view content) {
  return std::max(LevelSeverity(level), ContentSeverity(content));
}

double WithinLevelSeverity(std::string_view level, std::string_view content, double within) {
  const double l = LevelSeverity(level);
  const double c = ContentSeverity(content);
  return std::max(l, c) + (l >= 0.75 ? within * std::min(l, c) : 0.0);
}

bool IsPathValue(std::string_view value) {
  bool slash = false, letter = false;
  for (char c : value) {
    slash = slash || c == '/';
    letter = letter || std::isalpha(static_cast<unsigned char>(c)) != 0;
  }
  return slash && letter;
}

bool EndsInBareValue(std::string_view content) {
  size_t begin = 0;
  return IsBareValue(LastToken(content, &begin));
}

bool IsFieldReport(std::string_view content) {
  // A field's name is a short noun phrase ("exception syndrome register"); an event is told in a
  // sentence ("Error receiving packet on tree network, expecting type 57 instead of ... PIXF=7").
  int words = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    const bool starts = IsLetter(content[i]) && (i == 0 || !IsLetter(content[i - 1]));
    if (starts && ++words > kMaxFieldWords) return false;
  }
  size_t end = content.size();
  while (end > 0 && std::isspace(static_cast<unsigned char>(content[end - 1])) != 0) --end;
  if (end == 0) return false;
  if (content[end - 1] == ':') {  // a header of a list of fields ("general purpose registers:")
    return std::any_of(content.begin(), content.begin() + static_cast<std::ptrdiff_t>(end), IsLetter);
  }
  size_t begin = 0;
  if (!IsBareValue(LastToken(content, &begin))) return false;
  // The value is bound to its name by ':', '=' or a run of dots, not by a space ("for reason 1004").
  size_t s = begin;
  while (s > 0 && ValueSeparator(content[s - 1])) --s;
  const std::string_view bind = content.substr(s, begin - s);
  return s > 0 && bind.find_first_of(".:=") != std::string_view::npos;
}

bool IsValueReport(std::string_view content) {
  return EndsInBareValue(content) && ContentSeverity(content) < 0.6;
}

bool HasSeverityWord(std::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const size_t begin = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::string_view tok = line.substr(begin, i - begin);
    while (!tok.empty() && !IsLetter(tok.front())) tok.remove_prefix(1);
    while (!tok.empty() && !IsLetter(tok.back())) tok.remove_suffix(1);
    if (EqualsIgnoreCase(tok, "FATAL") || EqualsIgnoreCase(tok, "FAILURE") ||
        EqualsIgnoreCase(tok, "SEVERE") || EqualsIgnoreCase(tok, "ERROR")) {
      return true;
    }
  }
  return false;
}

}  // namespace fedlog::novelty
