#include "common/secagg/quantize.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace fedlog::secagg {
namespace {

// Two's-complement reading of a lane of its own width.
int64_t Signed(uint64_t lane) { return static_cast<int64_t>(lane); }
int64_t Signed(uint32_t lane) { return static_cast<int32_t>(lane); }

bool ValidRange(const QuantizationOptions& o) {
  return o.clip_range > 0 && std::isfinite(o.clip_range) && o.max_weight > 0 && std::isfinite(o.max_weight) &&
         o.max_sites >= 1;
}

double Bound(const QuantizationOptions& o) {
  return static_cast<double>(o.max_sites) * std::max(o.clip_range, 1.0) * o.max_weight;
}

}  // namespace

int MaxFractionalBits(const QuantizationOptions& o, int lane_bits) {
  int f = static_cast<int>(std::floor(static_cast<double>(lane_bits - 2) - std::log2(Bound(o))));
  // log2 may round across an integer: step down until the inequality holds exactly.
  while (std::ldexp(Bound(o), f) > std::ldexp(1.0, lane_bits - 2)) --f;
  return std::min(f, kMaxFractionalBits);
}

QuantizationOptions ChooseLanes(QuantizationOptions o, double min_weight) {
  const int f32 = MaxFractionalBits(o, 32);
  // A site of weight w keeps its step 2^-f / w within 2^-16 when f >= 16 - log2(w); floor(log2) errs safe.
  const double w = std::clamp(std::isfinite(min_weight) ? min_weight : 1.0, 1.0, std::max(o.max_weight, 1.0));
  const int needed = std::max(kMinFractionalBits, kSitePrecisionBits - static_cast<int>(std::floor(std::log2(w))));
  if (f32 >= needed) {
    o.lane_bits = 32;
    o.fractional_bits = f32;
  } else {
    o.lane_bits = 64;
    o.fractional_bits = MaxFractionalBits(o, 64);
  }
  return o;
}

Quantizer::Quantizer(const QuantizationOptions& options, int bits)
    : options_(options), bits_(bits), scale_(std::ldexp(1.0, bits)) {
  options_.fractional_bits = bits;
}

absl::StatusOr<Quantizer> Quantizer::Create(const QuantizationOptions& o) {
  if (!ValidRange(o)) {
    return absl::InvalidArgumentError("quantisation needs finite clip_range > 0, max_weight > 0, max_sites >= 1");
  }
  if (o.lane_bits != 32 && o.lane_bits != 64) {
    return absl::InvalidArgumentError(absl::StrCat("lane width ", o.lane_bits, " bits; 32 or 64 expected"));
  }
  const int most = MaxFractionalBits(o, o.lane_bits);
  const int bits = o.fractional_bits == 0 ? most : o.fractional_bits;
  if (bits < kMinFractionalBits || bits > kMaxFractionalBits) {
    return absl::InvalidArgumentError(absl::StrCat("max_sites * clip_range * max_weight = ", Bound(o), " leaves ",
                                                   bits, " fractional bits in ", o.lane_bits, "-bit lanes; ",
                                                   kMinFractionalBits, "..", kMaxFractionalBits, " needed"));
  }
  if (bits > most) {
    return absl::InvalidArgumentError(absl::StrCat(
        bits, " fractional bits in ", o.lane_bits, "-bit lanes could wrap the sum of ", o.max_sites,
        " sites (at most ", most, " fit); refused"));
  }
  return Quantizer(o, bits);
}

absl::Status Quantizer::CheckPrecision(double weight) const {
  if (weight == 0) return absl::OkStatus();
  const double site_step = step() / weight;
  if (!(site_step <= std::ldexp(1.0, -kSitePrecisionBits))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the round's quantisation (", options_.lane_bits, "-bit lanes, ", bits_, " fractional bits) gives this "
        "site's weight ", weight, " a step of ", site_step, ", coarser than 2^-", kSitePrecisionBits,
        "; refusing to mask (docs/PRIVACY.md)"));
  }
  return absl::OkStatus();
}

absl::Status Quantizer::CheckWeight(double weight) const {
  if (!(weight >= 0.0 && weight <= options_.max_weight)) {
    return absl::InvalidArgumentError(absl::StrCat("weight ", weight, " not in [0, ", options_.max_weight, "]"));
  }
  return absl::OkStatus();
}

template <typename Lane>
absl::Status Quantizer::EncodeLanes(absl::Span<const float> x, double weight, Lane* out) const {
  if (static_cast<int>(sizeof(Lane) * 8) != options_.lane_bits) {
    return absl::InvalidArgumentError(absl::StrCat("encode: the round uses ", options_.lane_bits, "-bit lanes"));
  }
  if (absl::Status st = CheckWeight(weight); !st.ok()) return st;
  const double r = options_.clip_range, ws = weight * scale_;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = static_cast<double>(x[i]);
    if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat("non-finite value at coordinate ", i));
    // |v * ws| <= R * W * 2^f < 2^(b-2): the int64 holds it, and its low b bits are the lane (mod 2^b).
    out[i] = static_cast<Lane>(static_cast<uint64_t>(std::llround(std::clamp(v, -r, r) * ws)));
  }
  return absl::OkStatus();
}

absl::Status Quantizer::Encode(absl::Span<const float> x, double weight, absl::Span<uint64_t> out) const {
  if (out.size() != x.size() + 1) return absl::InvalidArgumentError("encode: output needs x.size() + 1 lanes");
  if (absl::Status st = EncodeLanes(x, weight, out.data()); !st.ok()) return st;
  out[x.size()] = WeightLane(weight);
  return absl::OkStatus();
}

absl::Status Quantizer::Encode(absl::Span<const float> x, double weight, absl::Span<uint32_t> out) const {
  if (out.size() != x.size() + 1) return absl::InvalidArgumentError("encode: output needs x.size() + 1 lanes");
  if (absl::Status st = EncodeLanes(x, weight, out.data()); !st.ok()) return st;
  out[x.size()] = static_cast<uint32_t>(WeightLane(weight));
  return absl::OkStatus();
}

absl::Status Quantizer::EncodeValues(absl::Span<const float> x, double weight, absl::Span<uint64_t> out) const {
  if (out.size() != x.size()) return absl::InvalidArgumentError("encode: output needs x.size() lanes");
  return EncodeLanes(x, weight, out.data());
}

absl::Status Quantizer::EncodeValues(absl::Span<const float> x, double weight, absl::Span<uint32_t> out) const {
  if (out.size() != x.size()) return absl::InvalidArgumentError("encode: output needs x.size() lanes");
  return EncodeLanes(x, weight, out.data());
}

uint64_t Quantizer::WeightLane(double weight) const {
  return static_cast<uint64_t>(std::llround(std::clamp(weight, 0.0, options_.max_weight) * scale_));
}

template <typename Lane>
absl::StatusOr<DecodedSum> Quantizer::Decode(absl::Span<const Lane> sum, int sites) const {
  if (static_cast<int>(sizeof(Lane) * 8) != options_.lane_bits) {
    return absl::InvalidArgumentError(absl::StrCat("decode: the round uses ", options_.lane_bits, "-bit lanes"));
  }
  if (sum.empty() || sites < 1 || sites > options_.max_sites) {
    return absl::InvalidArgumentError("decode: need the weight lane and 1..max_sites sites");
  }
  const double n = static_cast<double>(sites);
  // Each site's lane rounds to within 1/2 of its bound; allow one unit per site on top.
  const double value_limit = n * (options_.clip_range * options_.max_weight * scale_ + 1.0);
  const double weight_limit = n * (options_.max_weight * scale_ + 1.0);
  DecodedSum d;
  d.weighted_sum.reserve(sum.size() - 1);  // filled below: no zero-fill first
  for (size_t i = 0; i + 1 < sum.size(); ++i) {
    const double v = static_cast<double>(Signed(sum[i]));
    if (std::fabs(v) > value_limit) {
      return absl::DataLossError(absl::StrCat("unmasked sum out of the clipped range at coordinate ", i));
    }
    d.weighted_sum.push_back(v / scale_);
  }
  const double w = static_cast<double>(Signed(sum.back()));
  if (w < 0 || w > weight_limit) return absl::DataLossError("unmasked weight sum out of range");
  d.weight_sum = w / scale_;
  d.clip_range = options_.clip_range;
  // Per site: half a step on each value lane and on the weight lane (which R multiplies).
  d.rounding = n * (options_.clip_range + 1.0) / (2.0 * scale_);
  return d;
}

absl::StatusOr<DecodedSum> Quantizer::DecodeSum(absl::Span<const uint64_t> sum, int sites) const {
  return Decode(sum, sites);
}

absl::StatusOr<DecodedSum> Quantizer::DecodeSum(absl::Span<const uint32_t> sum, int sites) const {
  return Decode(sum, sites);
}

}  // namespace fedlog::secagg
