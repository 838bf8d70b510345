#include "common/features/scaler.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedlog::features {

absl::StatusOr<StandardScaler> StandardScaler::Fit(const DenseMatrix& x,
                                                   absl::Span<const size_t> rows) {
  if (x.rows == 0 || x.cols == 0) return absl::InvalidArgumentError("StandardScaler: empty matrix");
  std::vector<size_t> all;
  if (rows.empty()) {
    all.resize(static_cast<size_t>(x.rows));
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    rows = all;
  }
  const size_t d = static_cast<size_t>(x.cols);
  std::vector<double> sum(d, 0.0), sq(d, 0.0);
  for (size_t r : rows) {
    if (r >= static_cast<size_t>(x.rows)) {
      return absl::InvalidArgumentError(absl::StrCat("StandardScaler: row ", r, " out of range"));
    }
    const float* v = x.Row(static_cast<int64_t>(r));
    for (size_t c = 0; c < d; ++c) {
      if (!std::isfinite(v[c])) {
        return absl::InvalidArgumentError(
            absl::StrCat("StandardScaler: non-finite value at row ", r, " col ", c));
      }
      sum[c] += v[c];
      sq[c] += static_cast<double>(v[c]) * v[c];
    }
  }
  StandardScaler s;
  const double n = static_cast<double>(rows.size());
  for (size_t c = 0; c < d; ++c) {
    const double mean = sum[c] / n;
    const double var = std::max(0.0, sq[c] / n - mean * mean);
    s.mean_.push_back(mean);
    s.std_.push_back(var > 1e-12 ? std::sqrt(var) : 1.0);
  }
  return s;
}

absl::StatusOr<StandardScaler> StandardScaler::FromMoments(std::vector<double> mean,
                                                           std::vector<double> std) {
  if (mean.size() != std.size() || mean.empty()) {
    return absl::InvalidArgumentError("StandardScaler: mean and std sizes differ or are empty");
  }
  for (double s : std) {
    if (!(s > 0)) return absl::InvalidArgumentError("StandardScaler: std must be > 0");
  }
  StandardScaler s;
  s.mean_ = std::move(mean);
  s.std_ = std::move(std);
  return s;
}

absl::Status StandardScaler::Transform(DenseMatrix* x) const {
  if (x->cols != dim()) {
    return absl::InvalidArgumentError(
        absl::StrCat("StandardScaler: matrix has ", x->cols, " columns, fitted ", dim()));
  }
  for (int64_t r = 0; r < x->rows; ++r)
    TransformRow(absl::MakeSpan(x->Row(r), static_cast<size_t>(x->cols)));
  return absl::OkStatus();
}

void StandardScaler::TransformRow(absl::Span<float> row) const {
  for (size_t c = 0; c < row.size(); ++c)
    row[c] = static_cast<float>((row[c] - mean_[c]) / std_[c]);
}

}  // namespace fedlog::features
