#include "common/fl/tensor_bundle.h"

#include <cmath>
#include <unordered_set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fedlog::fl {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

}  // namespace

int64_t NumElementsOf(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t NamedTensor::NumElements() const { return NumElementsOf(shape); }

const NamedTensor* TensorBundle::Find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

NamedTensor* TensorBundle::Find(const std::string& name) {
  for (auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

int64_t TensorBundle::NumElements() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += static_cast<int64_t>(t.values.size());
  return n;
}

double TensorBundle::SquaredNorm() const {
  double s = 0;
  for (const auto& t : tensors) {
    for (float v : t.values) s += static_cast<double>(v) * v;
  }
  return s;
}

BundleLayout LayoutOf(const TensorBundle& bundle) {
  BundleLayout layout;
  layout.reserve(bundle.tensors.size());
  for (const auto& t : bundle.tensors) layout.push_back({t.name, t.shape});
  return layout;
}

bool IsOptionalTensor(const std::string& name) {
  return absl::StartsWith(name, "adapter.") || absl::StartsWith(name, "prototypes.");
}

absl::Status ValidateBundle(const TensorBundle& bundle) {
  std::unordered_set<std::string> seen;
  for (const auto& t : bundle.tensors) {
    if (t.name.empty()) return absl::InvalidArgumentError("tensor with an empty name");
    if (!seen.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor '", t.name, "'"));
    }
    for (int64_t d : t.shape) {
      if (d < 0) return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' has a negative dim"));
    }
    if (t.NumElements() != static_cast<int64_t>(t.values.size())) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' shape ", ShapeString(t.shape),
                                                     " does not match ", t.values.size(), " values"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSameLayout(const TensorBundle& reference, const TensorBundle& other) {
  if (reference.tensors.size() != other.tensors.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", reference.tensors.size(), " tensors, got ",
                                                   other.tensors.size()));
  }
  for (const auto& ref : reference.tensors) {
    const NamedTensor* t = other.Find(ref.name);
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("missing tensor '", ref.name, "'"));
    if (t->shape != ref.shape) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", ref.name, "' has shape ", ShapeString(t->shape),
                                                     ", expected ", ShapeString(ref.shape)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFinite(const TensorBundle& bundle) {
  for (const auto& t : bundle.tensors) {
    for (size_t i = 0; i < t.values.size(); ++i) {
      if (!std::isfinite(t.values[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", t.name, "' has a non-finite value at index ", i));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TensorBundle> Subtract(const TensorBundle& a, const TensorBundle& b) {
  return AddScaled(a, b, -1.0);
}

absl::StatusOr<TensorBundle> AddScaled(const TensorBundle& base, const TensorBundle& delta, double scale) {
  if (absl::Status st = CheckSameLayout(base, delta); !st.ok()) return st;
  TensorBundle out = base;
  const float s = static_cast<float>(scale);
  for (auto& t : out.tensors) {
    const NamedTensor* d = delta.Find(t.name);
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] += s * d->values[i];
  }
  return out;
}

}  // namespace fedlog::fl
