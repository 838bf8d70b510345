#include "common/labels/template_similarity.h"

#include <algorithm>

#include "absl/strings/str_split.h"

namespace fedlog::labels {
namespace {

bool TokensEqual(absl::string_view a, absl::string_view b) {
  return a == b || a == kWildcardToken || b == kWildcardToken;
}

}  // namespace

std::vector<absl::string_view> TemplateTokens(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t\r\n\f\v"), absl::SkipEmpty());
}

size_t TokenEditDistance(const std::vector<absl::string_view>& a,
                         const std::vector<absl::string_view>& b) {
  // Two rolling rows of the classic DP table: prev[j] = distance(a[0..i), b[0..j)).
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (TokensEqual(a[i - 1], b[j - 1]) ? 0 : 1);
      cur[j] = std::min({substitute, prev[j] + 1, cur[j - 1] + 1});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double TemplateSimilarity(absl::string_view a, absl::string_view b) {
  const std::vector<absl::string_view> ta = TemplateTokens(a), tb = TemplateTokens(b);
  const size_t longest = std::max(ta.size(), tb.size());
  if (longest == 0) return 1.0;
  return 1.0 - static_cast<double>(TokenEditDistance(ta, tb)) / static_cast<double>(longest);
}

}  // namespace fedlog::labels
