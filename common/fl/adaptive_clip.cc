#include "common/fl/adaptive_clip.h"

#include <algorithm>
#include <cmath>

namespace fedlog::fl {
namespace {

bool NonNegativeFinite(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace

double LowerMedian(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t k = (values.size() - 1) / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

absl::StatusOr<ClipDecision> DecideClipping(const std::vector<double>& norms, double clip_norm, double multiple,
                                            double carried) {
  if (!NonNegativeFinite(clip_norm) || !NonNegativeFinite(multiple) || !NonNegativeFinite(carried)) {
    return absl::InvalidArgumentError("clip_norm, the adaptive clip multiple and the carried reference must be "
                                      "finite and not negative");
  }
  if (multiple > 0 && multiple < 1) {
    return absl::InvalidArgumentError("the adaptive clip multiple must be 0 (off) or at least 1");
  }
  for (double n : norms) {
    if (!NonNegativeFinite(n)) return absl::InvalidArgumentError("an update norm is not finite");
  }
  ClipDecision d;
  std::vector<double> pool = norms;
  if (carried > 0) pool.push_back(carried);
  d.reference = LowerMedian(std::move(pool));
  if (clip_norm > 0) d.bound = clip_norm;
  if (multiple > 0 && d.reference > 0) {
    const double adaptive = multiple * d.reference;
    d.bound = d.bound > 0 ? std::min(d.bound, adaptive) : adaptive;
  }
  for (double n : norms) {
    d.ratios.push_back(d.reference > 0 ? n / d.reference : 0);
    const bool clip = d.bound > 0 && n > d.bound;
    d.scales.push_back(clip ? d.bound / n : 1.0);
    d.clipped += clip ? 1 : 0;
  }
  return d;
}

}  // namespace fedlog::fl
