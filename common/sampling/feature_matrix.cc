#include "common/sampling/feature_matrix.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::sampling {

absl::StatusOr<FeatureMatrix> FeatureMatrix::FromRows(const std::vector<std::vector<float>>& rows) {
  FeatureMatrix m(rows.empty() ? 0 : rows.front().size());
  for (size_t i = 0; i < rows.size(); ++i) {
    FEDLOG_RETURN_IF_ERROR(Annotate(m.AppendRow(rows[i]), absl::StrCat("row ", i)));
  }
  return m;
}

absl::StatusOr<FeatureMatrix> FeatureMatrix::FromDense(const DenseMatrix& dense) {
  if (dense.rows < 0 || dense.cols <= 0 ||
      dense.data.size() != static_cast<size_t>(dense.rows * dense.cols)) {
    return absl::InvalidArgumentError(absl::StrCat("dense matrix ", dense.rows, " x ", dense.cols,
                                                   " holds ", dense.data.size(), " values"));
  }
  FeatureMatrix m(static_cast<size_t>(dense.cols));
  m.data_ = dense.data;
  return m;
}

absl::Status FeatureMatrix::AppendRow(absl::Span<const float> row) {
  if (row.size() != cols_ || cols_ == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("row has ", row.size(), " features, matrix has ", cols_));
  }
  data_.insert(data_.end(), row.begin(), row.end());
  return absl::OkStatus();
}

std::vector<std::vector<float>> FeatureMatrix::ToRows() const {
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < rows(); ++i) out.emplace_back(Row(i).begin(), Row(i).end());
  return out;
}

DenseMatrix FeatureMatrix::ToDense() const {
  DenseMatrix dense(static_cast<int64_t>(rows()), static_cast<int64_t>(cols_));
  dense.data = data_;
  return dense;
}

}  // namespace fedlog::sampling
