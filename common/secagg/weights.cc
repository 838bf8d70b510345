#include "common/secagg/weights.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fedlog::secagg {
namespace {

bool Caps(double share, size_t n) { return n >= 2 && share > 0 && share < 1; }

double CapShare(double share, size_t n) { return std::max(share, 1.0 / static_cast<double>(n)); }

}  // namespace

absl::Status CheckStatedWeight(double weight) {
  if (!(weight >= 0 && weight <= kMaxStatedWeight)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stated weight ", weight, " is not a number in [0, 2^40] (the site's sample count)"));
  }
  return absl::OkStatus();
}

double ShareCap(absl::Span<const double> weights, double share) {
  constexpr double kNone = std::numeric_limits<double>::infinity();
  const size_t n = weights.size();
  if (!Caps(share, n)) return kNone;
  const double c = CapShare(share, n);
  std::vector<double> w(weights.begin(), weights.end());
  std::sort(w.begin(), w.end());
  // g(T) = T / sum_i min(w_i, T) never decreases in T, and g(w[0]) = 1/n <= c. With T = w[k-1] the k smallest
  // weights are at most T and the others count T: find the largest such k with g <= c.
  std::vector<double> prefix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + w[i];
  auto share_at = [&](size_t k) {
    return w[k - 1] / (prefix[k] + static_cast<double>(n - k) * w[k - 1]);
  };
  size_t k = 1;
  while (k < n && share_at(k + 1) <= c) ++k;
  if (k == n) return kNone;
  // Between w[k-1] and w[k] exactly k weights stay below T: T / (P_k + (n - k) T) = c. g(w[k]) > c, and
  // g < 1 / (n - k) there, so c < 1 / (n - k) and the denominator is positive.
  const double t = c * prefix[k] / (1.0 - static_cast<double>(n - k) * c);
  return std::clamp(t, w[k - 1], w[k]);
}

std::optional<size_t> FirstOverShare(absl::Span<const double> weights, double share) {
  const size_t n = weights.size();
  if (n == 0 || !(share > 0 && share < 1)) return std::nullopt;
  double total = 0;
  for (double w : weights) total += w;
  const double bound = CapShare(share, n) * total * (1 + 1e-9);
  for (size_t i = 0; i < n; ++i) {
    if (weights[i] > bound) return i;
  }
  return std::nullopt;
}

absl::StatusOr<double> CheckGivenWeight(double given, double stated) {
  if (!(given > 0 && given <= stated)) {
    return absl::InvalidArgumentError(absl::StrCat("the roster gives this site weight ", given,
                                                   "; it stated ", stated, " (a weight in (0, stated] expected)"));
  }
  return given;
}

absl::Status CheckWeightSum(const DecodedSum& sum, double expected, int sites, int fractional_bits) {
  const double n = static_cast<double>(std::max(sites, 0));
  const double tolerance = n * std::ldexp(1.0, -(fractional_bits + 1)) +
                           (n + 2) * std::ldexp(1.0, -52) * std::max(std::fabs(expected), std::fabs(sum.weight_sum));
  if (!(std::fabs(sum.weight_sum - expected) <= tolerance)) {
    return absl::DataLossError(absl::StrCat(
        "the unmasked weight sum ", sum.weight_sum, " differs from ", expected, ", the sum of the weights the round "
        "gave its ", sites, " survivors: a site masked a weight other than the one it was given "
        "(docs/rules/s25-weightcap.md)"));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::secagg
