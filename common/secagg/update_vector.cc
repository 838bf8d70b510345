#include "common/secagg/update_vector.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::secagg {
namespace {

constexpr const char* kAdapterWeights[] = {"down.bias", "down.weight", "up.bias", "up.weight"};  // sorted

uint64_t Elements(const std::vector<int64_t>& shape) { return static_cast<uint64_t>(fl::NumElementsOf(shape)); }

std::string PrototypesOf(const std::string& source) { return absl::StrCat("adapter.", source, ".prototypes"); }

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Appends the layout's values of one update, clamping each to the clip range.
class Flattener {
 public:
  Flattener(double clip_range, FlatUpdate* out) : clip_range_(clip_range), out_(out) {}

  absl::Status Append(const fl::NamedTensor& t) {
    for (float v : t.values) {
      if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat("non-finite value in '", t.name, "'"));
      const float c = static_cast<float>(std::clamp<double>(v, -clip_range_, clip_range_));
      if (c != v) ++out_->clipped;
      out_->values.push_back(c);
    }
    return absl::OkStatus();
  }
  void Zeros(uint64_t n) { out_->values.resize(out_->values.size() + static_cast<size_t>(n), 0.0f); }
  void Lane(float v) { out_->values.push_back(v); }

  // `t` with `shape` when `delta` holds it so, then presence 1; zeros and presence 0 otherwise.
  absl::Status Optional(const fl::TensorBundle& delta, const std::string& name, const std::vector<int64_t>& shape) {
    const fl::NamedTensor* t = delta.Find(name);
    if (t != nullptr && t->shape == shape && t->values.size() == Elements(shape)) {
      FEDLOG_RETURN_IF_ERROR(Append(*t));
      Lane(1.0f);
    } else {
      Zeros(Elements(shape) + 1);
    }
    return absl::OkStatus();
  }

  absl::Status Section(const AdapterSection& s, const fl::TensorBundle& delta, bool member) {
    if (!member) {
      Zeros(s.length());
      return absl::OkStatus();
    }
    for (const fl::TensorShape& w : s.weights) {
      const fl::NamedTensor* t = delta.Find(w.name);
      if (t != nullptr && t->shape == w.shape && t->values.size() == Elements(w.shape)) {
        FEDLOG_RETURN_IF_ERROR(Append(*t));
      } else {
        Zeros(Elements(w.shape));  // a zero delta: the member still counts (header comment)
      }
    }
    Lane(1.0f);
    return Optional(delta, PrototypesOf(s.source), s.prototypes_shape);
  }

 private:
  const double clip_range_;
  FlatUpdate* out_;
};

// Takes tensors off a decoded sum in layout order, dividing each by its divisor.
class MeanTaker {
 public:
  explicit MeanTaker(const DecodedSum& sum) : sum_(sum) {}

  absl::Status Take(const std::string& name, const std::vector<int64_t>& shape, double divisor,
                    fl::TensorBundle* mean) {
    fl::NamedTensor t{name, shape, {}};
    const size_t n = static_cast<size_t>(Elements(shape));
    t.values.resize(n);
    // Honest sites' clamped values weighed by the weight they put in cannot sum beyond R x that weight: a sum
    // that does is a site whose value lanes disagree with its weight lane (a weight masked smaller than the one
    // its values carry), which would scale the mean past the clip range.
    const double bound = sum_.clip_range * divisor * (1 + 1e-9) + sum_.rounding;
    for (size_t i = 0; i < n; ++i) {
      const double s = sum_.weighted_sum[at_ + i];
      if (!(std::fabs(s) <= bound)) {
        return absl::DataLossError(absl::StrCat("the sum of '", name, "' at ", i, " exceeds the clip range times its",
                                                " weight sum: a site's values disagree with its weight"));
      }
      const double v = s / divisor;
      if (!std::isfinite(v)) return absl::DataLossError(absl::StrCat("non-finite aggregate in '", name, "'"));
      t.values[i] = static_cast<float>(v);
    }
    at_ += n;
    mean->tensors.push_back(std::move(t));
    return absl::OkStatus();
  }
  void Skip(uint64_t n) { at_ += static_cast<size_t>(n); }
  // The presence lane `offset` values ahead, checked against the weight sum.
  absl::StatusOr<double> Presence(uint64_t offset, const std::string& what) const {
    const double p = sum_.weighted_sum[at_ + static_cast<size_t>(offset)];
    if (!std::isfinite(p) || p > sum_.weight_sum * (1 + 1e-6) + 1e-6) {
      return absl::DataLossError(absl::StrCat("the presence sum of ", what, " exceeds the sites' weight sum"));
    }
    return p;
  }
  // Whether a presence sum stands for at least a quantisation-noise-free fraction of one site.
  bool Present(double presence) const { return presence > 1e-6 * sum_.weight_sum; }

  // One optional tensor followed by its presence lane.
  absl::Status Optional(const std::string& name, const std::vector<int64_t>& shape, fl::TensorBundle* mean) {
    FEDLOG_ASSIGN_OR_RETURN(double presence, Presence(Elements(shape), name));
    if (Present(presence)) {
      FEDLOG_RETURN_IF_ERROR(Take(name, shape, presence, mean));
    } else {
      Skip(Elements(shape));
    }
    Skip(1);
    return absl::OkStatus();
  }

  absl::Status Section(const AdapterSection& s, fl::TensorBundle* mean) {
    uint64_t weights = 0;
    for (const fl::TensorShape& w : s.weights) weights += Elements(w.shape);
    FEDLOG_ASSIGN_OR_RETURN(double presence, Presence(weights, absl::StrCat("adapter.", s.source)));
    if (Present(presence)) {
      for (const fl::TensorShape& w : s.weights) FEDLOG_RETURN_IF_ERROR(Take(w.name, w.shape, presence, mean));
    } else {
      Skip(weights);
    }
    Skip(1);
    return Optional(PrototypesOf(s.source), s.prototypes_shape, mean);
  }

 private:
  const DecodedSum& sum_;
  size_t at_ = 0;
};

}  // namespace

uint64_t AdapterSection::length() const {
  uint64_t n = Elements(prototypes_shape) + 2;
  for (const fl::TensorShape& t : weights) n += Elements(t.shape);
  return n;
}

uint64_t UpdateVectorLayout::length() const {
  uint64_t n = 0;
  for (const fl::TensorShape& t : shared) n += Elements(t.shape);
  if (!prototypes_shape.empty()) n += Elements(prototypes_shape) + 1;
  for (const AdapterSection& s : adapters) n += s.length();
  if (!release_shape.empty()) n += Elements(release_shape) + 1;
  return n + KindLanes();
}

absl::Status AddKindSections(const std::vector<std::string>& sources, UpdateVectorLayout* layout) {
  if (!layout->kind_sources.empty()) return absl::InvalidArgumentError("the layout has kind sections already");
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!fl::IsValidSourceName(sources[i]) || (i > 0 && !(sources[i - 1] < sources[i]))) {
      return absl::InvalidArgumentError("kind sections need valid source names, strictly ascending");
    }
  }
  layout->kind_sources = sources;
  return absl::OkStatus();
}

absl::Status AddReleaseSection(int64_t out_dim, UpdateVectorLayout* layout) {
  if (out_dim < 1 || !layout->release_shape.empty()) {
    return absl::InvalidArgumentError("secure aggregation: one release section for a model with out_dim >= 1");
  }
  layout->release_shape = {2, out_dim + 1};
  return absl::OkStatus();
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

absl::Status AddAdapterSections(const std::vector<std::string>& sources, const fl::UpdateCheckOptions& schema,
                                UpdateVectorLayout* layout) {
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string& s = sources[i];
    if (!fl::IsValidSourceName(s)) return absl::InvalidArgumentError("adapter section with an invalid source name");
    if (i > 0 && !(sources[i - 1] < s)) {
      return absl::InvalidArgumentError("adapter sections must be strictly ascending by source");
    }
    AdapterSection section;
    section.source = s;
    for (const char* part : kAdapterWeights) {
      const std::string name = absl::StrCat("adapter.", s, ".", part);
      FEDLOG_ASSIGN_OR_RETURN(std::vector<int64_t> shape, fl::ExpectedOptionalShape(name, schema));
      section.weights.push_back({name, shape});
    }
    FEDLOG_ASSIGN_OR_RETURN(section.prototypes_shape, fl::ExpectedOptionalShape(PrototypesOf(s), schema));
    layout->adapters.push_back(std::move(section));
  }
  return absl::OkStatus();
}

absl::StatusOr<UpdateVectorLayout> LayoutForRound(const fl::BundleLayout& model, const v1::ModelSpec& spec,
                                                  const v1::SecAggConfig& config) {
  const bool encoder = spec.arch() == "line_encoder";
  UpdateVectorLayout layout = MakeUpdateVectorLayout(model, encoder ? spec.encoder().out_dim() : 0);
  const int n = config.adapter_sources_size();
  if (config.adapter_group_sizes_size() != n) {
    return absl::InvalidArgumentError("secure aggregation: one group size per adapter source is needed");
  }
  for (int size : config.adapter_group_sizes()) {
    if (size < config.threshold() || size > config.max_sites()) {
      return absl::InvalidArgumentError(absl::StrCat("secure aggregation: an adapter group of ", size,
                                                     " sites is outside [threshold, max_sites]"));
    }
  }
  const std::vector<std::string> sources(config.adapter_sources().begin(), config.adapter_sources().end());
  std::set<std::string> members;
  for (const std::string& m : config.member_sources()) {
    if (!Contains(sources, m) || !members.insert(m).second) {
      return absl::InvalidArgumentError("secure aggregation: member sources must be distinct adapter sources");
    }
  }
  if (n > 0) {
    if (!encoder) return absl::InvalidArgumentError("secure aggregation: adapter sections for a model without adapters");
    fl::UpdateCheckOptions schema;
    schema.out_dim = spec.encoder().out_dim();
    schema.adapter_dim = spec.encoder().adapter_dim();
    FEDLOG_RETURN_IF_ERROR(AddAdapterSections(sources, schema, &layout));
  }
  if (config.class_sum_release()) {
    if (!encoder) return absl::InvalidArgumentError("secure aggregation: a release section for a model without one");
    FEDLOG_RETURN_IF_ERROR(AddReleaseSection(spec.encoder().out_dim(), &layout));
  }
  if (config.kind_group_sizes_size() != config.kind_sources_size()) {
    return absl::InvalidArgumentError("secure aggregation: one group size per kind source is needed");
  }
  for (int size : config.kind_group_sizes()) {
    if (size < config.threshold() || size > config.max_sites()) {
      return absl::InvalidArgumentError(absl::StrCat("secure aggregation: a kind group of ", size,
                                                     " sites is outside [threshold, max_sites]"));
    }
  }
  if (config.kind_sources_size() > 0) {
    if (config.class_sum_release()) {
      return absl::InvalidArgumentError("secure aggregation: kind sections in a DP release round");
    }
    FEDLOG_RETURN_IF_ERROR(AddKindSections(
        std::vector<std::string>(config.kind_sources().begin(), config.kind_sources().end()), &layout));
  }
  if (layout.length() != config.vector_length()) {
    return absl::FailedPreconditionError(absl::StrCat("the round's secure-aggregation vector has ",
                                                      config.vector_length(), " values; this site's model ",
                                                      layout.length()));
  }
  return layout;
}

absl::StatusOr<FlatUpdate> FlattenUpdate(const UpdateVectorLayout& layout, const fl::TensorBundle& delta,
                                         double clip_range, const std::vector<std::string>& member_sources) {
  FlatUpdate out;
  out.values.reserve(layout.length());
  Flattener f(clip_range, &out);
  for (const fl::TensorShape& s : layout.shared) {
    const fl::NamedTensor* t = delta.Find(s.name);
    if (t == nullptr || t->shape != s.shape || t->NumElements() != static_cast<int64_t>(t->values.size())) {
      return absl::InvalidArgumentError(absl::StrCat("update lacks shared tensor '", s.name, "' in its shape"));
    }
    FEDLOG_RETURN_IF_ERROR(f.Append(*t));
  }
  if (!layout.prototypes_shape.empty()) {
    FEDLOG_RETURN_IF_ERROR(f.Optional(delta, fl::kGlobalPrototypesName, layout.prototypes_shape));
  }
  for (const AdapterSection& s : layout.adapters) {
    FEDLOG_RETURN_IF_ERROR(f.Section(s, delta, Contains(member_sources, s.source)));
  }
  if (!layout.release_shape.empty()) {
    const fl::NamedTensor* t = delta.Find(fl::kReleasedPrototypesName);
    if (t == nullptr || t->shape != layout.release_shape || t->values.size() != Elements(layout.release_shape)) {
      return absl::InvalidArgumentError("a release round's update lacks prototypes.release (its noise share)");
    }
    FEDLOG_RETURN_IF_ERROR(f.Append(*t));
    f.Lane(1.0f);
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
  if (!(sum.clip_range > 0) || !(sum.rounding >= 0)) {
    return absl::InvalidArgumentError("a decoded sum needs its clip range and rounding (Quantizer::DecodeSum)");
  }
  fl::TensorBundle mean;
  MeanTaker taker(sum);
  for (const fl::TensorShape& s : layout.shared) {
    FEDLOG_RETURN_IF_ERROR(taker.Take(s.name, s.shape, sum.weight_sum, &mean));
  }
  if (!layout.prototypes_shape.empty()) {
    FEDLOG_RETURN_IF_ERROR(taker.Optional(fl::kGlobalPrototypesName, layout.prototypes_shape, &mean));
  }
  for (const AdapterSection& s : layout.adapters) FEDLOG_RETURN_IF_ERROR(taker.Section(s, &mean));
  if (!layout.release_shape.empty()) {
    FEDLOG_RETURN_IF_ERROR(taker.Optional(fl::kReleasedPrototypesName, layout.release_shape, &mean));
  }
  return mean;
}

}  // namespace fedlog::secagg
