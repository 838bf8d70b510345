// Jaccard similarity of two token sets, header-only and torch-free: the hybrid support detector
// (hybrid_support.h) mixes it with the encoder's cosine, and the encoder's alignment loss (losses.h) trains the
// cosine towards it.
#ifndef FEDLOG_COMMON_MODEL_TOKEN_JACCARD_H_
#define FEDLOG_COMMON_MODEL_TOKEN_JACCARD_H_

#include <cstdint>
#include <vector>

#include "common/base/token_jaccard.h"

namespace fedlog::model {

// |a ∩ b| / |a ∪ b| of two sorted, unique token sets; 0 when both are empty (common/base/token_jaccard.h).
inline double TokenJaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return SortedTokenJaccard(a, b);
}

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_TOKEN_JACCARD_H_
