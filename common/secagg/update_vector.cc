#include "common/secagg/update_vector.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/fl/fedavg.h"

namespace fedlog::secagg {

uint64_t UpdateVectorLayout::length() const {
  uint64_t n = 0;
  for (const fl::TensorShape& t : shared) n += static_cast<uint64_t>(fl::NumElementsOf(t.shape));
  if (!prototypes_shape.empty()) n += static_cast<uint64_t>(fl::NumElementsOf(prototypes_shape)) + 1;
  return n;
}

UpdateVectorLayout MakeUpdateVectorLayout(const fl::BundleLayout& model, int64_t prototypes_out_dim) {
  UpdateVectorLayout layout;
  for (const fl::TensorShape& t : model) {
    if (!fl::IsOptionalTensor(t.name)) layout.shared.push_back(t);
  }
  std::sort(layout.shared.begin(), layout.shared.end(),
            [](const fl::TensorShape& a, const fl::TensorShape& b) { return a.name < b.name; });
  if (prototypes_out_dim > 0) layout.prototypes_shape = {2, prototypes_out_dim};
  return layout;
}

absl::StatusOr<FlatUpdate> FlattenUpdate(const UpdateVectorLayout& layout, const fl::TensorBundle& delta,
                                         double clip_range) {
  FlatUpdate out;
  out.values.reserve(layout.length());
  auto append = [&](const fl::NamedTensor& t) -> absl::Status {
    for (float v : t.values) {
      if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat("non-finite value in '", t.name, "'"));
      const float c = static_cast<float>(std::clamp<double>(v, -clip_range, clip_range));
      if (c != v) ++out.clipped;
      out.values.push_back(c);
    }
    return absl::OkStatus();
  };
  for (const fl::TensorShape& s : layout.shared) {
    const fl::NamedTensor* t = delta.Find(s.name);
    if (t == nullptr || t->shape != s.shape || t->NumElements() != static_cast<int64_t>(t->values.size())) {
      return absl::InvalidArgumentError(absl::StrCat("update lacks shared tensor '", s.name, "' in its shape"));
    }
    if (absl::Status st = append(*t); !st.ok()) return st;
  }
  if (!layout.prototypes_shape.empty()) {
    const fl::NamedTensor* p = delta.Find(fl::kGlobalPrototypesName);
    if (p != nullptr && p->shape == layout.prototypes_shape &&
        static_cast<int64_t>(p->values.size()) == fl::NumElementsOf(p->shape)) {
      if (absl::Status st = append(*p); !st.ok()) return st;
      out.values.push_back(1.0f);
    } else {
      out.values.resize(out.values.size() + static_cast<size_t>(fl::NumElementsOf(layout.prototypes_shape)) + 1,
                        0.0f);
    }
  }
  return out;
}

absl::StatusOr<fl::TensorBundle> MeanFromSum(const UpdateVectorLayout& layout, const DecodedSum& sum) {
  if (sum.weighted_sum.size() != layout.length()) {
    return absl::DataLossError(absl::StrCat("aggregate of ", sum.weighted_sum.size(), " values; the layout has ",
                                            layout.length()));
  }
  if (!(sum.weight_sum > 0) || !std::isfinite(sum.weight_sum)) {
    return absl::FailedPreconditionError("the sites' weights sum to zero");
  }
  fl::TensorBundle mean;
  size_t at = 0;
  auto take = [&](const std::string& name, const std::vector<int64_t>& shape, double divisor) -> absl::Status {
    fl::NamedTensor t{name, shape, {}};
    const size_t n = static_cast<size_t>(fl::NumElementsOf(shape));
    t.values.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const double v = sum.weighted_sum[at + i] / divisor;
      if (!std::isfinite(v)) return absl::DataLossError(absl::StrCat("non-finite aggregate in '", name, "'"));
      t.values[i] = static_cast<float>(v);
    }
    at += n;
    mean.tensors.push_back(std::move(t));
    return absl::OkStatus();
  };
  for (const fl::TensorShape& s : layout.shared) {
    if (absl::Status st = take(s.name, s.shape, sum.weight_sum); !st.ok()) return st;
  }
  if (!layout.prototypes_shape.empty()) {
    const size_t n = static_cast<size_t>(fl::NumElementsOf(layout.prototypes_shape));
    const double presence = sum.weighted_sum[at + n];
    // Only a weighted presence of at least a quantisation-noise-free fraction of one site counts as "sent".
    if (presence > 1e-6 * sum.weight_sum) {
      if (absl::Status st = take(fl::kGlobalPrototypesName, layout.prototypes_shape, presence); !st.ok()) return st;
    }
  }
  return mean;
}

}  // namespace fedlog::secagg
