// DenseMatrix: row-major float matrix used to hand feature rows from featurizers to models without either
// side knowing the other's types. Thread-compatible value type.
#ifndef FEDLOG_COMMON_BASE_DENSE_MATRIX_H_
#define FEDLOG_COMMON_BASE_DENSE_MATRIX_H_

#include <cstdint>
#include <vector>

namespace fedlog {

struct DenseMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // rows * cols

  DenseMatrix() = default;
  DenseMatrix(int64_t r, int64_t c) : rows(r), cols(c), data(static_cast<size_t>(r * c), 0.0f) {}
  float* Row(int64_t r) { return data.data() + r * cols; }
  const float* Row(int64_t r) const { return data.data() + r * cols; }
};

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_DENSE_MATRIX_H_
