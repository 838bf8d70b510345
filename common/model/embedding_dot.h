// The dot product of two float embeddings of the same width, accumulated in double. Header-only and torch-free:
// shared by the fused few-shot detector (few_shot_fused.cc) and the encoder + Jaccard hybrid (hybrid_support.cc),
// whose embeddings are unit-norm, so the dot product is their cosine.
#ifndef FEDLOG_COMMON_MODEL_EMBEDDING_DOT_H_
#define FEDLOG_COMMON_MODEL_EMBEDDING_DOT_H_

#include <cstddef>

namespace fedlog::model {

inline double EmbeddingDot(const float* a, const float* b, size_t dim) {
  double s = 0;
  for (size_t j = 0; j < dim; ++j) s += static_cast<double>(a[j]) * static_cast<double>(b[j]);
  return s;
}

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_EMBEDDING_DOT_H_
