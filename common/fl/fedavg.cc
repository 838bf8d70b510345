#include "common/fl/fedavg.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fl/strategy.h"

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
    source_.push_back(AdapterSource(t.name));
    t.values.clear();
    t.values.shrink_to_fit();
  }
  tensor_weight_.assign(layout_.tensors.size(), 0.0);
}

absl::Status WeightedAverager::Add(const TensorBundle& delta, double weight, const std::vector<std::string>& sources,
                                   double scale) {
  if (!(weight > 0) || !std::isfinite(weight) || !std::isfinite(scale)) {
    return absl::InvalidArgumentError(absl::StrCat("update weight must be positive, got ", weight));
  }
  if (delta.tensors.size() != layout_.tensors.size()) {
    return absl::InvalidArgumentError("update does not match the model layout");
  }
  std::vector<const float*> src(layout_.tensors.size());
  for (size_t i = 0; i < layout_.tensors.size(); ++i) {
    const NamedTensor* d = delta.Find(layout_.tensors[i].name);
    if (d == nullptr || d->values.size() != sums_[i].size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("update does not match the model layout at '", layout_.tensors[i].name, "'"));
    }
    src[i] = d->values.data();
  }
  const double f = weight * scale;
  for (size_t i = 0; i < layout_.tensors.size(); ++i) {
    if (!source_[i].empty() && std::find(sources.begin(), sources.end(), source_[i]) == sources.end()) continue;
    double* dst = sums_[i].data();
    const float* s = src[i];
    const size_t n = sums_[i].size();
    for (size_t j = 0; j < n; ++j) dst[j] += f * static_cast<double>(s[j]);
    tensor_weight_[i] += weight;
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
    values.assign(sums_[i].size(), 0.0f);
    if (tensor_weight_[i] <= 0) continue;
    const double inv = 1.0 / tensor_weight_[i];
    for (size_t j = 0; j < values.size(); ++j) values[j] = static_cast<float>(sums_[i][j] * inv);
  }
  return out;
}

}  // namespace fedlog::fl
