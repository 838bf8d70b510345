#include "common/classic/classifier.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedlog::classic {

absl::Status ValidateTrainingData(const DenseMatrix& x, absl::Span<const int> y,
                                  absl::Span<const float> weights) {
  if (x.rows == 0 || x.cols == 0)
    return absl::InvalidArgumentError("classifier: empty training matrix");
  if (x.data.size() != static_cast<size_t>(x.rows * x.cols)) {
    return absl::InvalidArgumentError("classifier: matrix shape and data size disagree");
  }
  if (y.size() != static_cast<size_t>(x.rows)) {
    return absl::InvalidArgumentError(
        absl::StrCat("classifier: ", y.size(), " labels for ", x.rows, " rows"));
  }
  if (!weights.empty() && weights.size() != y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("classifier: ", weights.size(), " weights for ", y.size(), " rows"));
  }
  bool seen[2] = {false, false};
  for (int v : y) {
    if (v != 0 && v != 1)
      return absl::InvalidArgumentError(absl::StrCat("classifier: label ", v, " is not 0/1"));
    seen[v] = true;
  }
  if (!seen[0] || !seen[1])
    return absl::InvalidArgumentError("classifier: training labels hold one class only");
  for (float w : weights) {
    if (!(w >= 0) || !std::isfinite(w))
      return absl::InvalidArgumentError("classifier: weights must be finite, >= 0");
  }
  for (size_t i = 0; i < x.data.size(); ++i) {
    if (!std::isfinite(x.data[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("classifier: non-finite feature at row ", i / x.cols));
    }
  }
  return absl::OkStatus();
}

}  // namespace fedlog::classic
