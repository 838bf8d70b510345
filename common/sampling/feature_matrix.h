// A dense row-major float matrix: one row per sample, one column per feature. The sampling
// library's input and output type; cheap to build from std::vector<std::vector<float>>.
// Thread-safety: thread-compatible (const methods may run concurrently; mutation needs external
// sync).
#ifndef FEDLOG_COMMON_SAMPLING_FEATURE_MATRIX_H_
#define FEDLOG_COMMON_SAMPLING_FEATURE_MATRIX_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/base/dense_matrix.h"

namespace fedlog::sampling {

class FeatureMatrix {
 public:
  FeatureMatrix() = default;
  // An empty matrix whose rows will have `cols` features.
  explicit FeatureMatrix(size_t cols) : cols_(cols) {}

  // InvalidArgument when the rows differ in width (the message names the first offending row).
  static absl::StatusOr<FeatureMatrix> FromRows(const std::vector<std::vector<float>>& rows);
  // Copies a featurizer's DenseMatrix. InvalidArgument when its shape and data size disagree.
  static absl::StatusOr<FeatureMatrix> FromDense(const DenseMatrix& dense);

  size_t rows() const { return cols_ == 0 ? 0 : data_.size() / cols_; }
  size_t cols() const { return cols_; }
  // The i-th row; valid until the next AppendRow. Requires i < rows().
  absl::Span<const float> Row(size_t i) const {
    return absl::MakeConstSpan(data_.data() + i * cols_, cols_);
  }
  // Appends a copy of `row`. InvalidArgument when its width differs from cols() (or is 0).
  absl::Status AppendRow(absl::Span<const float> row);
  std::vector<std::vector<float>> ToRows() const;
  DenseMatrix ToDense() const;

 private:
  size_t cols_ = 0;
  std::vector<float> data_;
};

}  // namespace fedlog::sampling

#endif  // FEDLOG_COMMON_SAMPLING_FEATURE_MATRIX_H_
