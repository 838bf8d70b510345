#include "common/secagg/norm_bound.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedlog::secagg {
namespace {

uint64_t Elements(const std::vector<int64_t>& shape) { return static_cast<uint64_t>(fl::NumElementsOf(shape)); }

// Relative slack of the sum check: the site scales its float values to the bound in float arithmetic, and each
// lane is the weight times a float, rounded; 1e-5 covers both with a wide margin and lets no boost through.
constexpr double kRelativeSlack = 1e-5;

absl::Status CheckRanges(size_t size, const std::vector<ValueRange>& ranges) {
  for (const ValueRange& r : ranges) {
    if (r.begin > r.end || r.end > size) return absl::InvalidArgumentError("a value range lies outside the vector");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<NormPart> NormParts(const UpdateVectorLayout& layout) {
  std::vector<NormPart> parts;
  uint64_t at = 0;
  for (const fl::TensorShape& t : layout.shared) at += Elements(t.shape);
  parts.push_back({{0, at}, -1});
  if (!layout.prototypes_shape.empty()) {
    const uint64_t n = Elements(layout.prototypes_shape);
    parts.push_back({{at, at + n}, static_cast<int64_t>(at + n)});
    at += n + 1;
  }
  for (const AdapterSection& s : layout.adapters) {
    uint64_t weights = 0;
    for (const fl::TensorShape& w : s.weights) weights += Elements(w.shape);
    parts.push_back({{at, at + weights}, static_cast<int64_t>(at + weights)});
    at += weights + 1;
    const uint64_t n = Elements(s.prototypes_shape);
    parts.push_back({{at, at + n}, static_cast<int64_t>(at + n)});
    at += n + 1;
  }
  return parts;
}

std::vector<ValueRange> ValueRanges(const UpdateVectorLayout& layout) {
  std::vector<ValueRange> out;
  for (const NormPart& p : NormParts(layout)) out.push_back(p.values);
  return out;
}

absl::StatusOr<double> ValueNorm(absl::Span<const float> x, const std::vector<ValueRange>& ranges) {
  if (absl::Status st = CheckRanges(x.size(), ranges); !st.ok()) return st;
  double squares = 0;
  for (const ValueRange& r : ranges) {
    for (uint64_t i = r.begin; i < r.end; ++i) {
      const double v = x[i];
      if (!std::isfinite(v)) return absl::InvalidArgumentError("non-finite value in the update vector");
      squares += v * v;
    }
  }
  return std::sqrt(squares);
}

absl::StatusOr<bool> ClipValueNorm(double bound, const std::vector<ValueRange>& ranges, std::vector<float>* x) {
  if (!std::isfinite(bound) || bound < 0) return absl::InvalidArgumentError("a norm bound must be finite and >= 0");
  absl::StatusOr<double> norm = ValueNorm(*x, ranges);
  if (!norm.ok()) return norm.status();
  if (bound == 0 || *norm <= bound) return false;
  const double scale = bound / *norm;
  for (const ValueRange& r : ranges) {
    for (uint64_t i = r.begin; i < r.end; ++i) (*x)[i] = static_cast<float>((*x)[i] * scale);
  }
  return true;
}

absl::StatusOr<double> ReportedNorm(double norm) {
  if (!std::isfinite(norm) || norm < 0) return absl::InvalidArgumentError("a norm must be finite and >= 0");
  if (norm == 0) return 0.0;
  double r = std::exp2(std::ceil(4 * std::log2(norm)) / 4);
  while (r < norm) r *= std::exp2(0.25);  // log2's rounding must never state less than the norm
  return r;
}

double MaxReportedNorm(double clip_range, uint64_t vector_length) {
  return clip_range * std::sqrt(static_cast<double>(vector_length)) * std::exp2(0.25) * (1 + 1e-9);
}

absl::Status CheckNormBound(const UpdateVectorLayout& layout, const DecodedSum& sum, double bound) {
  if (!std::isfinite(bound) || bound < 0) return absl::InvalidArgumentError("a norm bound must be finite and >= 0");
  if (bound == 0) return absl::OkStatus();
  if (sum.weighted_sum.size() != layout.length() || !(sum.rounding >= 0)) {
    return absl::InvalidArgumentError("the decoded sum does not match the layout");
  }
  const std::vector<NormPart> parts = NormParts(layout);
  for (size_t p = 0; p < parts.size(); ++p) {
    const NormPart& part = parts[p];
    const double divisor = part.presence_lane < 0 ? sum.weight_sum
                                                  : sum.weighted_sum[static_cast<size_t>(part.presence_lane)];
    double squares = 0;
    for (uint64_t i = part.values.begin; i < part.values.end; ++i) {
      squares += sum.weighted_sum[i] * sum.weighted_sum[i];
    }
    const double len = static_cast<double>(part.values.end - part.values.begin);
    const double allowed = bound * std::max(divisor, 0.0) * (1 + kRelativeSlack) + sum.rounding * std::sqrt(len);
    if (!(std::sqrt(squares) <= allowed)) {
      return absl::DataLossError(absl::StrCat(
          "the sum's part ", p, " has L2 norm ", std::sqrt(squares), ", above the round's norm bound ", bound,
          " times its weight sum ", divisor, ": a site masked values beyond the bound it was given"));
    }
  }
  return absl::OkStatus();
}

}  // namespace fedlog::secagg
