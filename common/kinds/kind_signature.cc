#include "common/kinds/kind_signature.h"

#include <cctype>

namespace fedlog::kinds {
namespace {

constexpr std::string_view kStrip = ".,;:()[]{}<>\"'=!?*";
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

bool Keep(std::string_view t) {
  if (t.empty()) return false;
  for (char c : t) {
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '/' || c == '\\') return false;
  }
  return true;
}

uint64_t Fnv(uint64_t h, unsigned char c) { return (h ^ c) * kFnvPrime; }

}  // namespace

std::vector<std::string> KindTokens(std::string_view content) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && std::isspace(static_cast<unsigned char>(content[i]))) ++i;
    size_t j = i;
    while (j < content.size() && !std::isspace(static_cast<unsigned char>(content[j]))) ++j;
    std::string_view t = content.substr(i, j - i);
    i = j;
    while (!t.empty() && kStrip.find(t.front()) != std::string_view::npos) t.remove_prefix(1);
    while (!t.empty() && kStrip.find(t.back()) != std::string_view::npos) t.remove_suffix(1);
    if (!Keep(t)) continue;
    std::string lower(t);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::move(lower));
  }
  return out;
}

std::optional<uint64_t> KindSignature(std::string_view content) {
  const std::vector<std::string> tokens = KindTokens(content);
  if (tokens.empty()) return std::nullopt;
  uint64_t h = kFnvOffset;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) h = Fnv(h, 0x1F);
    for (char c : tokens[i]) h = Fnv(h, static_cast<unsigned char>(c));
  }
  return h;
}

}  // namespace fedlog::kinds
