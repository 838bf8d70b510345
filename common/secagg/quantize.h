// Fixed-point encoding of weighted updates for secure aggregation, in 32-bit or 64-bit lanes.
//
// A site's input is a float vector x (length d) and a weight w (for weighted FedAvg: its sample count, or a
// share such as 0.3). Each coordinate is clamped to the documented clipping range [-R, R] (R =
// clip_range), multiplied by w, and rounded to the nearest multiple of 2^-f; the weight itself becomes lane d.
// So lane i carries round(w * clamp(x_i) * 2^f) in two's complement and lane d carries round(w * 2^f). Lanes
// are uint32 (arithmetic modulo 2^32) or uint64 (modulo 2^64): `lane_bits` b.
//
// No wrap: a round's (b, f) must satisfy
//   max_sites * max(R, 1) * max_weight * 2^f <= 2^(b-2),
// so that the sum of max_sites inputs (plus at most 1/2 unit of rounding per site) stays below 2^(b-2) + N/2
// in magnitude, far inside the signed range 2^(b-1): it cannot wrap and its sign decodes. The weight lane is
// bounded by the same term (max(R, 1) >= 1).
// Precision: the rounding error of the decoded weighted sum is at most n * 2^-(f+1) per coordinate for n
// sites; a site of weight w sees its own coordinates quantised with the step 2^-f / w. A site refuses to mask
// when that step is coarser than 2^-kSitePrecisionBits (CheckPrecision), so an aggregator cannot make a site's
// update lose precision silently by stating a small f, a large max_weight or narrow lanes.
// The aggregator's choice (ChooseLanes): 32-bit lanes when their largest no-wrap f gives the smallest weight
// the aggregator expects in the round (1 unless it knows better, e.g. from the line counts sites declared)
// a step within 2^-kSitePrecisionBits, 64-bit lanes otherwise; f always the largest that cannot wrap (at most
// 52, so that the decoded sums are exact in doubles). docs/PRIVACY.md, "Quantisation and the modulus", gives
// the rule and the argument.
// Thread-safe (immutable after Create).
#ifndef FEDLOG_COMMON_SECAGG_QUANTIZE_H_
#define FEDLOG_COMMON_SECAGG_QUANTIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::secagg {

inline constexpr int kMinFractionalBits = 8;    // fewer: refused outright (Create)
inline constexpr int kMaxFractionalBits = 52;   // more: sums would not be exact in doubles
inline constexpr int kSitePrecisionBits = 16;   // a site's own step 2^-f / w must be <= 2^-16

struct QuantizationOptions {
  double clip_range = 4.0;  // R: each coordinate of x is clamped to [-R, R] before weighting
  double max_weight = 1e6;  // W: a site's weight must lie in [0, W]
  int max_sites = 1024;     // N: the most sites whose inputs are ever summed
  int lane_bits = 64;       // b: 32 (uint32 lanes, mod 2^32) or 64 (uint64 lanes, mod 2^64)
  int fractional_bits = 0;  // f; 0: the largest f that cannot wrap in b-bit lanes (MaxFractionalBits)
};

// The largest f with N * max(R, 1) * W * 2^f <= 2^(lane_bits - 2), capped at kMaxFractionalBits (may be
// negative when nothing fits). R, W and N must be positive and finite.
int MaxFractionalBits(const QuantizationOptions& options, int lane_bits);

// The aggregator's lane choice for a round (the header comment): `options` with lane_bits and fractional_bits
// set. 32-bit lanes when their largest no-wrap f is at least kMinFractionalBits and a site of weight
// `min_weight` keeps a step 2^-f / min_weight <= 2^-kSitePrecisionBits; 64-bit lanes otherwise. `min_weight`
// (clamped to [1, W]) is the smallest weight the aggregator expects a site of the round to put in: a site
// below it refuses to mask (CheckPrecision), so it must be a bound the aggregator can argue for. R, W and N as
// for MaxFractionalBits.
QuantizationOptions ChooseLanes(QuantizationOptions options, double min_weight = 1);

struct DecodedSum {
  std::vector<double> weighted_sum;  // sum over sites of w * clamp(x)
  double weight_sum = 0;             // sum over sites of w
  // What honest inputs can produce (Quantizer::DecodeSum sets both): every masked value was clamped to
  // [-clip_range, clip_range] and weighted by the weight its site put in, so a coordinate's |sum| is at most
  // clip_range times the weight that contributed to it, plus `rounding` (each site's lanes round by half a
  // step). MeanFromSum refuses a sum beyond that: some site's value lanes disagree with its weight lane.
  double clip_range = 0;
  double rounding = 0;
};

class Quantizer {
 public:
  // InvalidArgument for non-positive or non-finite R, W or N, lane_bits other than 32 or 64, f outside
  // [kMinFractionalBits, kMaxFractionalBits], or an f under which the sum of N inputs could wrap.
  static absl::StatusOr<Quantizer> Create(const QuantizationOptions& options);

  int fractional_bits() const { return bits_; }
  int lane_bits() const { return options_.lane_bits; }
  size_t lane_bytes() const { return static_cast<size_t>(options_.lane_bits / 8); }
  double step() const { return 1.0 / scale_; }  // the quantisation step 2^-f
  const QuantizationOptions& options() const { return options_; }  // fractional_bits filled in

  // OK when a site of weight `weight` keeps the precision bound: weight 0 (it adds nothing), or a step
  // 2^-f / weight <= 2^-kSitePrecisionBits. FailedPrecondition otherwise.
  absl::Status CheckPrecision(double weight) const;

  // Writes d + 1 lanes into `out` (out.size() == x.size() + 1); the lane type must match lane_bits
  // (InvalidArgument otherwise). InvalidArgument for a non-finite value or a weight outside [0, W].
  absl::Status Encode(absl::Span<const float> x, double weight, absl::Span<uint64_t> out) const;
  absl::Status Encode(absl::Span<const float> x, double weight, absl::Span<uint32_t> out) const;
  // The value lanes only (out.size() == x.size()), for encoding a vector chunk by chunk; WeightLane is lane d.
  absl::Status EncodeValues(absl::Span<const float> x, double weight, absl::Span<uint64_t> out) const;
  absl::Status EncodeValues(absl::Span<const float> x, double weight, absl::Span<uint32_t> out) const;
  // round(weight * 2^f) as a lane (the caller checks the weight with Encode's rule first).
  uint64_t WeightLane(double weight) const;

  // Decodes the sum of `sites` encoded inputs (lanes of lane_bits). DataLoss when a lane lies outside what
  // `sites` clipped inputs can produce (the aggregator's range check on the unmasked sum).
  absl::StatusOr<DecodedSum> DecodeSum(absl::Span<const uint64_t> sum, int sites) const;
  absl::StatusOr<DecodedSum> DecodeSum(absl::Span<const uint32_t> sum, int sites) const;

 private:
  Quantizer(const QuantizationOptions& options, int bits);
  absl::Status CheckWeight(double weight) const;
  template <typename Lane>
  absl::Status EncodeLanes(absl::Span<const float> x, double weight, Lane* out) const;
  template <typename Lane>
  absl::StatusOr<DecodedSum> Decode(absl::Span<const Lane> sum, int sites) const;
  QuantizationOptions options_;
  int bits_;
  double scale_;
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_QUANTIZE_H_
