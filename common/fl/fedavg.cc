#include "common/fl/fedavg.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::fl {

absl::Status CheckUpdate(const TensorBundle& global, const TensorBundle& delta,
                         const UpdateCheckOptions& options) {
  FEDLOG_RETURN_IF_ERROR(ValidateBundle(delta));
  FEDLOG_RETURN_IF_ERROR(CheckSameLayout(global, delta));
  FEDLOG_RETURN_IF_ERROR(CheckFinite(delta));
  if (options.max_norm > 0) {
    double norm = std::sqrt(delta.SquaredNorm());
    if (norm > options.max_norm) {
      return absl::InvalidArgumentError(
          absl::StrCat("update norm ", norm, " exceeds the bound ", options.max_norm));
    }
  }
  return absl::OkStatus();
}

WeightedAverager::WeightedAverager(const TensorBundle& layout) : layout_(layout) {
  sums_.reserve(layout_.tensors.size());
  for (auto& t : layout_.tensors) {
    sums_.emplace_back(t.values.size(), 0.0);
    t.values.clear();
    t.values.shrink_to_fit();
  }
}

absl::Status WeightedAverager::Add(const TensorBundle& delta, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) {
    return absl::InvalidArgumentError(absl::StrCat("update weight must be positive, got ", weight));
  }
  if (delta.tensors.size() != layout_.tensors.size()) {
    return absl::InvalidArgumentError("update does not match the model layout");
  }
  for (size_t i = 0; i < layout_.tensors.size(); ++i) {
    const NamedTensor* d = delta.Find(layout_.tensors[i].name);
    if (d == nullptr || d->values.size() != sums_[i].size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("update does not match the model layout at '", layout_.tensors[i].name, "'"));
    }
  }
  for (size_t i = 0; i < layout_.tensors.size(); ++i) {
    const float* src = delta.Find(layout_.tensors[i].name)->values.data();
    double* dst = sums_[i].data();
    const size_t n = sums_[i].size();
    for (size_t j = 0; j < n; ++j) dst[j] += weight * static_cast<double>(src[j]);
  }
  total_weight_ += weight;
  ++count_;
  return absl::OkStatus();
}

absl::StatusOr<TensorBundle> WeightedAverager::Mean() const {
  if (count_ == 0) return absl::FailedPreconditionError("no updates to average");
  TensorBundle out = layout_;
  for (size_t i = 0; i < out.tensors.size(); ++i) {
    auto& values = out.tensors[i].values;
    values.resize(sums_[i].size());
    for (size_t j = 0; j < values.size(); ++j) values[j] = static_cast<float>(sums_[i][j] / total_weight_);
  }
  return out;
}

}  // namespace fedlog::fl
