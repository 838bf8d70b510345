// Jaccard similarity |a ∩ b| / |a ∪ b| of two sorted, unique token lists, header-only and free of
// any other fedlog library, for the places that compare lines by their token sets: the few-shot rule
// and its Jaccard 1-NN baseline (common/fewshot fewshot::Jaccard), the hybrid support detector and the
// encoder's alignment loss (common/model/token_jaccard.h), and active selection's verdict reach
// (common/active/neighbourhood.h). Each keeps its own token type; the arithmetic is this one.
#ifndef FEDLOG_COMMON_BASE_TOKEN_JACCARD_H_
#define FEDLOG_COMMON_BASE_TOKEN_JACCARD_H_

#include <cstddef>
#include <vector>

namespace fedlog {

// 0 when both lists are empty (and so when either is, as they share nothing).
template <typename Token>
double SortedTokenJaccard(const std::vector<Token>& a, const std::vector<Token>& b) {
  size_t i = 0, j = 0, both = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++both, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  const size_t either = a.size() + b.size() - both;
  return either == 0 ? 0.0 : static_cast<double>(both) / static_cast<double>(either);
}

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_TOKEN_JACCARD_H_
