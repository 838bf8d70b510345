// Fixed-point encoding of weighted updates for secure aggregation, modulo 2^64.
//
// A site's input is a float vector x (length d) and a weight w (for weighted FedAvg: its sample count, or a
// share such as 0.3). Each coordinate is clamped to the documented clipping range [-R, R] (R =
// clip_range), multiplied by w, and rounded to the nearest multiple of 2^-f; the weight itself becomes lane d.
// So lane i carries round(w * clamp(x_i) * 2^f) as a two's-complement int64 and lane d carries round(w * 2^f).
//
// f (fractional_bits) is chosen as large as possible such that the sum of max_sites inputs cannot wrap:
//   max_sites * max(R, 1) * max_weight * 2^f <= 2^62,
// leaving one bit of headroom below the sign bit. The rounding error of the decoded weighted sum is at most
// n * 2^-(f+1) per coordinate for n sites; the weighted mean's error is that divided by the weight sum.
// Thread-safe (immutable after Create).
#ifndef FEDLOG_COMMON_SECAGG_QUANTIZE_H_
#define FEDLOG_COMMON_SECAGG_QUANTIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::secagg {

struct QuantizationOptions {
  double clip_range = 4.0;  // R: each coordinate of x is clamped to [-R, R] before weighting
  double max_weight = 1e6;  // W: a site's weight must lie in [0, W]
  int max_sites = 1024;     // N: the most sites whose inputs are ever summed
};

struct DecodedSum {
  std::vector<double> weighted_sum;  // sum over sites of w * clamp(x)
  double weight_sum = 0;             // sum over sites of w
};

class Quantizer {
 public:
  // InvalidArgument for non-positive or non-finite R, W or N, or when fewer than 8 fractional bits remain.
  static absl::StatusOr<Quantizer> Create(const QuantizationOptions& options);

  int fractional_bits() const { return bits_; }
  double step() const { return 1.0 / scale_; }  // the quantisation step 2^-f
  const QuantizationOptions& options() const { return options_; }

  // Writes d + 1 lanes into `out` (out.size() == x.size() + 1). InvalidArgument for a non-finite value or a
  // weight outside [0, W].
  absl::Status Encode(absl::Span<const float> x, double weight, absl::Span<uint64_t> out) const;

  // Decodes the sum of `sites` encoded inputs. DataLoss when a lane lies outside what `sites` clipped inputs
  // can produce (the aggregator's range check on the unmasked sum).
  absl::StatusOr<DecodedSum> DecodeSum(absl::Span<const uint64_t> sum, int sites) const;

 private:
  Quantizer(const QuantizationOptions& options, int bits);
  QuantizationOptions options_;
  int bits_;
  double scale_;
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_QUANTIZE_H_
