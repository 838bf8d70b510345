// StandardScaler: per-column standardisation (x - mean) / std, fitted on training rows only and
// then applied unchanged to validation, test and live rows, so no statistic of held-out data leaks
// into a model. A constant column (std 0) gets std 1, so it maps to 0 instead of dividing by zero.
// Thread-compatible: Fit mutates; Transform is const and may run concurrently.
#ifndef FEDLOG_COMMON_FEATURES_SCALER_H_
#define FEDLOG_COMMON_FEATURES_SCALER_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/base/dense_matrix.h"

namespace fedlog::features {

class StandardScaler {
 public:
  // Fits on the rows of `x` listed in `rows` (all rows when empty). InvalidArgument for an empty
  // matrix, a row index out of range, or a non-finite value.
  static absl::StatusOr<StandardScaler> Fit(const DenseMatrix& x,
                                            absl::Span<const size_t> rows = {});
  // Restores a fitted scaler (e.g. shipped with a model). InvalidArgument when the sizes differ or
  // a std <= 0.
  static absl::StatusOr<StandardScaler> FromMoments(std::vector<double> mean,
                                                    std::vector<double> std);

  // Standardises every row of `x` in place. InvalidArgument when its width differs from the fitted
  // one.
  absl::Status Transform(DenseMatrix* x) const;
  // Standardises one row of dim() values in place (live scoring). Requires row.size() == dim().
  void TransformRow(absl::Span<float> row) const;

  int dim() const { return static_cast<int>(mean_.size()); }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }

 private:
  std::vector<double> mean_;
  std::vector<double> std_;
};

}  // namespace fedlog::features

#endif  // FEDLOG_COMMON_FEATURES_SCALER_H_
