// Token-level similarity of two log templates, used to transfer labels from a known anomalous
// template to a new one ("fuzzy" provenance). Templates are split on ASCII whitespace; the
// similarity is
//   1 - TokenEditDistance(a, b) / max(|a|, |b|)
// where TokenEditDistance is the Levenshtein distance over tokens (insert, delete, substitute cost
// 1) and the wildcard token "<*>" equals any token. So 1.0 means the same template up to
// parameters, and one changed token in a 10-token template gives 0.9. Two empty templates are
// identical (1.0). Cost: O(|a| * |b|). Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_LABELS_TEMPLATE_SIMILARITY_H_
#define FEDLOG_COMMON_LABELS_TEMPLATE_SIMILARITY_H_

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"

namespace fedlog::labels {

inline constexpr absl::string_view kWildcardToken = "<*>";

// Whitespace-separated tokens of `text`; views point into it.
std::vector<absl::string_view> TemplateTokens(absl::string_view text);

size_t TokenEditDistance(const std::vector<absl::string_view>& a,
                         const std::vector<absl::string_view>& b);

// In [0, 1]; see the file comment.
double TemplateSimilarity(absl::string_view a, absl::string_view b);

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_TEMPLATE_SIMILARITY_H_
