#include "common/secagg/quantize.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedlog::secagg {

Quantizer::Quantizer(const QuantizationOptions& options, int bits)
    : options_(options), bits_(bits), scale_(std::ldexp(1.0, bits)) {}

absl::StatusOr<Quantizer> Quantizer::Create(const QuantizationOptions& o) {
  if (!(o.clip_range > 0) || std::isinf(o.clip_range) || !(o.max_weight > 0) || std::isinf(o.max_weight) ||
      o.max_sites < 1) {
    return absl::InvalidArgumentError("quantisation needs finite clip_range > 0, max_weight > 0, max_sites >= 1");
  }
  const double bound = static_cast<double>(o.max_sites) * std::max(o.clip_range, 1.0) * o.max_weight;
  const int bits = static_cast<int>(std::floor(62.0 - std::log2(bound)));
  if (bits < 8) {
    return absl::InvalidArgumentError(absl::StrCat("max_sites * clip_range * max_weight = ", bound,
                                                   " leaves fewer than 8 fractional bits in 64-bit lanes"));
  }
  return Quantizer(o, std::min(bits, 52));
}

absl::Status Quantizer::Encode(absl::Span<const float> x, double weight, absl::Span<uint64_t> out) const {
  if (out.size() != x.size() + 1) return absl::InvalidArgumentError("encode: output needs x.size() + 1 lanes");
  if (!(weight >= 0.0 && weight <= options_.max_weight)) {
    return absl::InvalidArgumentError(absl::StrCat("weight ", weight, " not in [0, ", options_.max_weight, "]"));
  }
  const double r = options_.clip_range, ws = weight * scale_;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = static_cast<double>(x[i]);
    if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat("non-finite value at coordinate ", i));
    out[i] = static_cast<uint64_t>(std::llround(std::clamp(v, -r, r) * ws));
  }
  out[x.size()] = static_cast<uint64_t>(std::llround(ws));
  return absl::OkStatus();
}

absl::StatusOr<DecodedSum> Quantizer::DecodeSum(absl::Span<const uint64_t> sum, int sites) const {
  if (sum.empty() || sites < 1 || sites > options_.max_sites) {
    return absl::InvalidArgumentError("decode: need the weight lane and 1..max_sites sites");
  }
  const double n = static_cast<double>(sites);
  // Each site's lane rounds to within 1/2 of its bound; allow one unit per site on top.
  const double value_limit = n * (options_.clip_range * options_.max_weight * scale_ + 1.0);
  const double weight_limit = n * (options_.max_weight * scale_ + 1.0);
  DecodedSum d;
  d.weighted_sum.resize(sum.size() - 1);
  for (size_t i = 0; i + 1 < sum.size(); ++i) {
    const double v = static_cast<double>(static_cast<int64_t>(sum[i]));
    if (std::fabs(v) > value_limit) {
      return absl::DataLossError(absl::StrCat("unmasked sum out of the clipped range at coordinate ", i));
    }
    d.weighted_sum[i] = v / scale_;
  }
  const double w = static_cast<double>(static_cast<int64_t>(sum.back()));
  if (w < 0 || w > weight_limit) return absl::DataLossError("unmasked weight sum out of range");
  d.weight_sum = w / scale_;
  return d;
}

}  // namespace fedlog::secagg
