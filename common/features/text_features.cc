#include "common/features/text_features.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fedlog::features {
namespace {

// Keyword flags: case-insensitive substrings, so "failed" / "failure" raise kw_fail.
constexpr std::array<absl::string_view, 12> kKeywords = {
    "error",  "fail",  "exception", "denied",   "refused", "timeout",
    "killed", "panic", "fatal",     "critical", "corrupt", "unreachable"};

// Offsets of the feature blocks; the names in FeatureNames() follow the same order.
constexpr int kShapeDims = 6;  // lengths, ratios, entropy
constexpr int kEntityBase = kShapeDims;
constexpr int kKeywordBase = kEntityBase + 4;
constexpr int kLevelBase = kKeywordBase + static_cast<int>(kKeywords.size());
static_assert(kLevelBase + 7 == TextFeaturizer::kDim);

constexpr absl::string_view kPieceDelimiters = " \t\r\n,;=()[]{}<>\"'|";

bool AllOf(absl::string_view s, bool (*pred)(unsigned char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [pred](char c) { return pred(static_cast<unsigned char>(c)); });
}

bool IsOctet(absl::string_view s) {
  if (s.empty() || s.size() > 3 || !AllOf(s, absl::ascii_isdigit)) return false;
  return std::stoi(std::string(s)) <= 255;
}

// "10.1.2.3", optionally followed by ":port" or "/prefix".
bool IsIpv4(absl::string_view p) {
  const size_t suffix = p.find_first_of(":/");
  if (suffix != absl::string_view::npos) {
    if (!AllOf(p.substr(suffix + 1), absl::ascii_isdigit)) return false;
    p = p.substr(0, suffix);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(p, '.');
  return parts.size() == 4 && std::all_of(parts.begin(), parts.end(), IsOctet);
}

bool IsPath(absl::string_view p) {
  if (p.size() > 1 && p[0] == '/' && p[1] != '/') return true;
  if (absl::StartsWith(p, "./") || absl::StartsWith(p, "../") || absl::StartsWith(p, "~/"))
    return true;
  return p.size() > 2 && absl::ascii_isalpha(p[0]) && p[1] == ':' && p[2] == '\\';
}

bool IsHex(absl::string_view p) {
  if ((absl::StartsWith(p, "0x") || absl::StartsWith(p, "0X")) &&
      AllOf(p.substr(2), absl::ascii_isxdigit)) {
    return true;
  }
  return p.size() >= 8 && AllOf(p, absl::ascii_isxdigit) && !AllOf(p, absl::ascii_isdigit) &&
         std::any_of(p.begin(), p.end(), [](char c) { return absl::ascii_isdigit(c); });
}

bool IsNumber(absl::string_view p) {
  if (!absl::ConsumePrefix(&p, "-")) absl::ConsumePrefix(&p, "+");
  std::vector<absl::string_view> parts = absl::StrSplit(p, '.');
  return parts.size() <= 2 && std::all_of(parts.begin(), parts.end(), [](absl::string_view d) {
           return AllOf(d, absl::ascii_isdigit);
         });
}

// Counts IPs, hex values, paths and numbers among the pieces of `content` (see docs/FEATURES.md).
void CountEntities(absl::string_view content, float* out) {
  for (absl::string_view piece :
       absl::StrSplit(content, absl::ByAnyChar(kPieceDelimiters), absl::SkipEmpty())) {
    while (!piece.empty() && (piece.back() == '.' || piece.back() == ':')) piece.remove_suffix(1);
    if (piece.empty()) continue;
    absl::string_view unslashed = piece;
    absl::ConsumePrefix(&unslashed, "/");
    if (IsIpv4(unslashed)) {
      out[0] += 1;
    } else if (IsPath(piece)) {
      out[2] += 1;
    } else if (IsHex(piece)) {
      out[1] += 1;
    } else if (IsNumber(piece)) {
      out[3] += 1;
    }
  }
}

void ShapeFeatures(absl::string_view content, float* out) {
  std::array<int, 256> histogram{};
  int digits = 0, upper = 0, punct = 0;
  for (char ch : content) {
    const unsigned char c = static_cast<unsigned char>(ch);
    ++histogram[c];
    digits += absl::ascii_isdigit(c) ? 1 : 0;
    upper += absl::ascii_isupper(c) ? 1 : 0;
    punct += absl::ascii_ispunct(c) ? 1 : 0;
  }
  const double n = static_cast<double>(content.size());
  double entropy = 0;
  for (int count : histogram) {
    if (count > 0) entropy -= (count / n) * std::log2(count / n);
  }
  const std::vector<absl::string_view> tokens =
      absl::StrSplit(content, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
  out[0] = static_cast<float>(std::log1p(n));
  out[1] = static_cast<float>(std::log1p(static_cast<double>(tokens.size())));
  out[2] = n == 0 ? 0.0f : static_cast<float>(digits / n);
  out[3] = n == 0 ? 0.0f : static_cast<float>(upper / n);
  out[4] = n == 0 ? 0.0f : static_cast<float>(punct / n);
  out[5] = static_cast<float>(entropy);
}

}  // namespace

LevelClass ClassifyLevel(absl::string_view level) {
  level = absl::StripAsciiWhitespace(level);
  while (!level.empty() &&
         absl::string_view("[<(").find(level.front()) != absl::string_view::npos) {
    level.remove_prefix(1);
  }
  while (!level.empty() &&
         absl::string_view("]>):").find(level.back()) != absl::string_view::npos) {
    level.remove_suffix(1);
  }
  const std::string l = absl::AsciiStrToUpper(level);
  auto in = [&l](std::initializer_list<absl::string_view> names) {
    return std::find(names.begin(), names.end(), l) != names.end();
  };
  if (in({"TRACE", "VERBOSE", "FINEST", "V"})) return LevelClass::kTrace;
  if (in({"DEBUG", "FINE", "D"})) return LevelClass::kDebug;
  if (in({"INFO", "NOTICE", "I"})) return LevelClass::kInfo;
  if (in({"WARN", "WARNING", "W"})) return LevelClass::kWarn;
  if (in({"ERROR", "ERR", "SEVERE", "E"})) return LevelClass::kError;
  if (in({"FATAL", "CRITICAL", "CRIT", "EMERG", "ALERT", "FAILURE", "PANIC", "F", "A"})) {
    return LevelClass::kFatal;
  }
  return LevelClass::kOther;
}

LevelClass DetectLevel(absl::string_view content) {
  int seen = 0;
  for (absl::string_view token : absl::StrSplit(content, ' ', absl::SkipEmpty())) {
    if (++seen > 4) break;
    if (token.size() < 3) continue;  // skip one-letter forms like "I" or "E" in prose
    const LevelClass c = ClassifyLevel(token);
    if (c != LevelClass::kOther) return c;
  }
  return LevelClass::kOther;
}

const std::vector<std::string>& TextFeaturizer::FeatureNames() {
  static const std::vector<std::string>* const kNames = [] {
    auto* names = new std::vector<std::string>{
        "log1p_char_length", "log1p_token_count", "digit_ratio", "upper_ratio", "punct_ratio",
        "char_entropy",      "ip_count",          "hex_count",   "path_count",  "number_count"};
    for (absl::string_view k : kKeywords) names->push_back("kw_" + std::string(k));
    for (const char* l : {"trace", "debug", "info", "warn", "error", "fatal", "other"}) {
      names->push_back(std::string("level_") + l);
    }
    return names;
  }();
  return *kNames;
}

void TextFeaturizer::Featurize(absl::string_view content, absl::string_view level,
                               absl::Span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  ShapeFeatures(content, out.data());
  CountEntities(content, out.data() + kEntityBase);
  const std::string lowered = absl::AsciiStrToLower(content);
  for (size_t k = 0; k < kKeywords.size(); ++k) {
    bool hit = absl::StrContains(lowered, kKeywords[k]);
    if (kKeywords[k] == "timeout") hit = hit || absl::StrContains(lowered, "timed out");
    out[kKeywordBase + k] = hit ? 1.0f : 0.0f;
  }
  const LevelClass c = level.empty() ? DetectLevel(content) : ClassifyLevel(level);
  out[kLevelBase + static_cast<int>(c)] = 1.0f;
}

std::vector<float> TextFeaturizer::Featurize(absl::string_view content,
                                             absl::string_view level) const {
  std::vector<float> out(kDim);
  Featurize(content, level, absl::MakeSpan(out));
  return out;
}

DenseMatrix TextFeaturizer::FeaturizeAll(const std::vector<std::string>& contents,
                                         const std::vector<std::string>& levels) const {
  DenseMatrix m(static_cast<int64_t>(contents.size()), kDim);
  for (size_t i = 0; i < contents.size(); ++i) {
    Featurize(contents[i], i < levels.size() ? absl::string_view(levels[i]) : absl::string_view(),
              absl::MakeSpan(m.Row(static_cast<int64_t>(i)), kDim));
  }
  return m;
}

}  // namespace fedlog::features
