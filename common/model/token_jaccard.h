// Jaccard similarity of two token sets, header-only and torch-free: the hybrid support detector
// (hybrid_support.h) mixes it with the encoder's cosine, and the encoder's alignment loss (losses.h) trains the
// cosine towards it.
#ifndef FEDLOG_COMMON_MODEL_TOKEN_JACCARD_H_
#define FEDLOG_COMMON_MODEL_TOKEN_JACCARD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fedlog::model {

// |a ∩ b| / |a ∪ b| of two sorted, unique token sets; 0 when both are empty.
inline double TokenJaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.empty() && b.empty()) return 0;
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++common;
      ++i;
      ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_TOKEN_JACCARD_H_
