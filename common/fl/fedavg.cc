#include "common/fl/fedavg.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/fl/strategy.h"

namespace fedlog::fl {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> ExpectedOptionalShape(const std::string& name,
                                                           const UpdateCheckOptions& o) {
  if (o.out_dim <= 0 || o.adapter_dim <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("optional tensor '", name, "' is not in the model, and this model takes no new ones"));
  }
  const int64_t out = o.out_dim, a = o.adapter_dim;
  if (name == kGlobalPrototypesName) return std::vector<int64_t>{2, out};
  if (name == kReleasedPrototypesName) return std::vector<int64_t>{2, out + 1};
  const std::string source = AdapterSource(name);
  if (IsValidSourceName(source)) {
    const std::string part = name.substr(8 + source.size() + 1);
    if (part == "down.weight") return std::vector<int64_t>{a, out};
    if (part == "down.bias") return std::vector<int64_t>{a};
    if (part == "up.weight") return std::vector<int64_t>{out, a};
    if (part == "up.bias") return std::vector<int64_t>{out};
    if (part == "prototypes") return std::vector<int64_t>{2, out};
  }
  return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a known adapter or prototype tensor"));
}

bool IsValidSourceName(const std::string& name) {
  if (name.empty() || name.size() > kMaxSourceNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool InOptionalSchema(const NamedTensor& t, const UpdateCheckOptions& options) {
  absl::StatusOr<std::vector<int64_t>> shape = ExpectedOptionalShape(t.name, options);
  return shape.ok() && *shape == t.shape && t.NumElements() == static_cast<int64_t>(t.values.size());
}

std::vector<std::string> DropUnknownOptional(TensorBundle* bundle, const UpdateCheckOptions& options) {
  std::vector<std::string> dropped;
  std::vector<NamedTensor> kept;
  kept.reserve(bundle->tensors.size());
  for (NamedTensor& t : bundle->tensors) {
    if (IsOptionalTensor(t.name) && !InOptionalSchema(t, options)) {
      dropped.push_back(t.name);
      continue;
    }
    kept.push_back(std::move(t));
  }
  bundle->tensors = std::move(kept);
  return dropped;
}

UpdateChecker::UpdateChecker(const BundleLayout& global, UpdateCheckOptions options)
    : options_(std::move(options)) {
  for (const auto& t : global) {
    global_[t.name] = t.shape;
    if (!IsOptionalTensor(t.name)) ++shared_total_;
  }
}

absl::Status UpdateChecker::Check(const NamedTensor& t) {
  if (t.name.empty()) return absl::InvalidArgumentError("tensor with an empty name");
  if (!seen_.count(t.name) && t.NumElements() != static_cast<int64_t>(t.values.size())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' shape ", ShapeString(t.shape),
                                                   " does not match ", t.values.size(), " values"));
  }
  FEDLOG_RETURN_IF_ERROR(BeginTensor(t.name, t.shape));
  FEDLOG_RETURN_IF_ERROR(TensorValues(t.values.data(), t.values.size()));
  return EndTensor();
}

absl::Status UpdateChecker::BeginTensor(const std::string& name, const std::vector<int64_t>& shape) {
  if (name.empty()) return absl::InvalidArgumentError("tensor with an empty name");
  if (!seen_.emplace(name, true).second) {
    return absl::InvalidArgumentError(absl::StrCat("duplicate tensor '", name, "'"));
  }
  auto it = global_.find(name);
  if (IsOptionalTensor(name)) {
    const std::string source = AdapterSource(name);
    if (absl::StartsWith(name, "adapter.") && (source.empty() || !Contains(options_.sources, source))) {
      return absl::PermissionDeniedError(absl::StrCat("tensor '", name, "' is an adapter of a source this site ",
                                                      "did not report (", absl::StrJoin(options_.sources, ","),
                                                      ")"));
    }
    // The run's schema decides (model spec + the site's sources); the global model's copy of a tensor only
    // when the model takes no new optional tensors (no schema shapes known).
    std::vector<int64_t> expected;
    if (it != global_.end() && (options_.out_dim <= 0 || options_.adapter_dim <= 0)) {
      expected = it->second;
    } else {
      FEDLOG_ASSIGN_OR_RETURN(expected, ExpectedOptionalShape(name, options_));
    }
    if (shape != expected) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape ", ShapeString(shape),
                                                     ", expected ", ShapeString(expected)));
    }
  } else {
    if (it == global_.end()) return absl::InvalidArgumentError(absl::StrCat("unexpected tensor '", name, "'"));
    if (shape != it->second) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape ", ShapeString(shape),
                                                     ", expected ", ShapeString(it->second)));
    }
    ++shared_seen_;
  }
  name_ = name;
  expected_ = static_cast<size_t>(NumElementsOf(shape));
  got_ = 0;
  tensor_sq_ = SquaredSum();
  return absl::OkStatus();
}

absl::Status UpdateChecker::TensorValues(const float* values, size_t n) {
  if (got_ + n > expected_) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name_, "' has more than ", expected_, " values"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name_, "' has a non-finite value at index ", got_ + i));
    }
  }
  tensor_sq_.Add(values, n);
  got_ += n;
  return absl::OkStatus();
}

absl::Status UpdateChecker::EndTensor() {
  if (got_ != expected_) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name_, "' has ", got_, " of ", expected_, " values"));
  }
  const double squared = tensor_sq_.Total();
  squared_norm_ += squared;
  parts_.Add(name_, squared);
  return absl::OkStatus();
}

absl::Status UpdateChecker::Finish() {
  if (shared_seen_ != shared_total_) {
    for (const auto& [name, shape] : global_) {
      if (!IsOptionalTensor(name) && !seen_.count(name)) {
        return absl::InvalidArgumentError(absl::StrCat("missing tensor '", name, "'"));
      }
    }
  }
  if (options_.max_norm > 0) {
    const double norm = std::sqrt(squared_norm_);
    if (norm > options_.max_norm) {
      return absl::InvalidArgumentError(absl::StrCat("update norm ", norm, " exceeds the bound ", options_.max_norm));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUpdate(const TensorBundle& global, const TensorBundle& delta, const UpdateCheckOptions& options) {
  UpdateChecker checker(LayoutOf(global), options);
  for (const auto& t : delta.tensors) FEDLOG_RETURN_IF_ERROR(checker.Check(t));
  return checker.Finish();
}

WeightedAverager::WeightedAverager(const TensorBundle& layout) : WeightedAverager(LayoutOf(layout)) {}

WeightedAverager::WeightedAverager(const BundleLayout& layout) {
  slots_.reserve(layout.size());
  for (const auto& t : layout) {
    Slot s;
    s.sum.name = t.name;
    s.sum.shape = t.shape;
    s.sum.values.assign(static_cast<size_t>(s.sum.NumElements()), 0.0f);
    s.optional = IsOptionalTensor(t.name);
    s.source = AdapterSource(t.name);
    s.in_base = true;
    if (!s.optional) ++shared_count_;
    index_[t.name] = slots_.size();
    slots_.push_back(std::move(s));
  }
}

WeightedAverager::Slot* WeightedAverager::Find(const std::string& name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &slots_[it->second];
}

absl::Status WeightedAverager::Poison(absl::Status why) {
  poisoned_ = true;
  open_ = false;
  in_tensor_ = false;
  return why;
}

absl::Status WeightedAverager::BeginUpdate(double weight, const std::vector<std::string>& sources, double scale) {
  if (poisoned_) return absl::FailedPreconditionError("averager failed earlier");
  if (open_) return absl::FailedPreconditionError("previous update not ended");
  if (!(weight > 0) || !std::isfinite(weight) || !std::isfinite(scale)) {
    return absl::InvalidArgumentError(absl::StrCat("update weight must be positive, got ", weight));
  }
  open_ = true;
  weight_ = weight;
  factor_ = static_cast<float>(weight * scale);
  sources_ = sources;
  for (auto& s : slots_) s.seen = false;
  return absl::OkStatus();
}

absl::Status WeightedAverager::AddTensor(const NamedTensor& t) {
  if (open_ && t.NumElements() != static_cast<int64_t>(t.values.size())) {
    return Poison(absl::InvalidArgumentError(
        absl::StrCat("update does not match the model layout at '", t.name, "'")));
  }
  FEDLOG_RETURN_IF_ERROR(BeginTensor(t.name, t.shape));
  FEDLOG_RETURN_IF_ERROR(TensorValues(t.values.data(), t.values.size()));
  return EndTensor();
}

absl::Status WeightedAverager::BeginTensor(const std::string& name, const std::vector<int64_t>& shape) {
  if (!open_ || in_tensor_) {
    if (open_) return Poison(absl::FailedPreconditionError("previous tensor not ended"));
    return absl::FailedPreconditionError(poisoned_ ? "averager failed earlier" : "no update begun");
  }
  Slot* slot = Find(name);
  if (slot == nullptr) {
    if (!IsOptionalTensor(name)) {
      return Poison(absl::InvalidArgumentError(
          absl::StrCat("update does not match the model layout at '", name, "'")));
    }
    index_[name] = slots_.size();
    Slot s;
    s.sum = {name, shape, std::vector<float>(static_cast<size_t>(NumElementsOf(shape)), 0.0f)};
    s.optional = true;
    s.source = AdapterSource(name);
    slots_.push_back(std::move(s));
    slot = &slots_.back();
  }
  if (slot->sum.shape != shape) {
    return Poison(absl::InvalidArgumentError(
        absl::StrCat("update does not match the model layout at '", name, "'")));
  }
  if (slot->seen) return Poison(absl::InvalidArgumentError(absl::StrCat("duplicate tensor '", name, "'")));
  slot->seen = true;
  slot_ = index_[name];
  in_tensor_ = true;
  adding_ = slot->source.empty() || Contains(sources_, slot->source);
  filled_ = 0;
  return absl::OkStatus();
}

absl::Status WeightedAverager::TensorValues(const float* src, size_t n) {
  if (!in_tensor_) return absl::FailedPreconditionError("no tensor begun");
  NamedTensor& sum = slots_[slot_].sum;
  if (filled_ + n > sum.values.size()) {
    return Poison(absl::InvalidArgumentError(
        absl::StrCat("update does not match the model layout at '", sum.name, "'")));
  }
  if (adding_) {
    float* dst = sum.values.data() + filled_;
    const float f = factor_;
    for (size_t j = 0; j < n; ++j) dst[j] += f * src[j];
  }
  filled_ += n;
  return absl::OkStatus();
}

absl::Status WeightedAverager::EndTensor() {
  if (!in_tensor_) return absl::FailedPreconditionError("no tensor begun");
  in_tensor_ = false;
  Slot& slot = slots_[slot_];
  if (filled_ != slot.sum.values.size()) {
    return Poison(absl::InvalidArgumentError(
        absl::StrCat("update does not match the model layout at '", slot.sum.name, "'")));
  }
  if (adding_) slot.weight += weight_;
  return absl::OkStatus();
}

absl::Status WeightedAverager::EndUpdate() {
  if (!open_) return absl::FailedPreconditionError(poisoned_ ? "averager failed earlier" : "no update begun");
  if (in_tensor_) return Poison(absl::FailedPreconditionError("tensor not ended"));
  for (const auto& s : slots_) {
    if (!s.optional && !s.seen) {
      return Poison(absl::InvalidArgumentError(
          absl::StrCat("update does not match the model layout at '", s.sum.name, "' (missing)")));
    }
  }
  open_ = false;
  total_weight_ += weight_;
  ++count_;
  return absl::OkStatus();
}

absl::Status WeightedAverager::Add(const TensorBundle& delta, double weight, const std::vector<std::string>& sources,
                                   double scale) {
  // Check the whole layout first, so a bundle that does not fit leaves the averager untouched.
  size_t shared = 0;
  for (const auto& t : delta.tensors) {
    const Slot* s = Find(t.name);
    const bool fits = s == nullptr ? IsOptionalTensor(t.name)
                                   : s->sum.shape == t.shape && s->sum.values.size() == t.values.size();
    if (!fits) {
      return absl::InvalidArgumentError(absl::StrCat("update does not match the model layout at '", t.name, "'"));
    }
    if (s != nullptr && !s->optional) ++shared;
  }
  if (shared != shared_count_) return absl::InvalidArgumentError("update does not match the model layout");
  FEDLOG_RETURN_IF_ERROR(BeginUpdate(weight, sources, scale));
  for (const auto& t : delta.tensors) FEDLOG_RETURN_IF_ERROR(AddTensor(t));
  return EndUpdate();
}

absl::StatusOr<TensorBundle> WeightedAverager::TakeMean() {
  if (poisoned_) return absl::FailedPreconditionError("averager failed earlier");
  if (count_ == 0) return absl::FailedPreconditionError("no updates to average");
  TensorBundle out;
  out.tensors.reserve(slots_.size());
  for (auto& s : slots_) {
    if (s.weight > 0) {
      const float inv = static_cast<float>(1.0 / s.weight);
      for (float& v : s.sum.values) v *= inv;
    } else if (!s.in_base) {
      continue;  // new to the model and nobody's to add: it does not enter the model
    }
    out.tensors.push_back(std::move(s.sum));
  }
  slots_.clear();
  index_.clear();
  count_ = 0;
  total_weight_ = 0;
  poisoned_ = true;  // emptied: further use is a bug
  return out;
}

absl::StatusOr<TensorBundle> WeightedAverager::Mean() const {
  WeightedAverager copy = *this;
  return copy.TakeMean();
}

}  // namespace fedlog::fl
