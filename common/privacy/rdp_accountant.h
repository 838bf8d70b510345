// Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar and Zhang 2019, "Rényi Differential
// Privacy of the Sampled Gaussian Mechanism"), and the conversion of an RDP curve to (epsilon, delta)-DP.
//
// One step of the mechanism: each record (a line in line-level DP, a site in site-level DP) is included with
// probability q, the included contributions are clipped to L2 norm C and summed, and Gaussian noise of standard
// deviation sigma*C is added (sigma is the noise multiplier). RDP composes additively over steps and over
// rounds with different (q, sigma), order by order, so the accountant keeps a vector of RDP values over a fixed
// list of orders and converts to epsilon only at the end:
//   epsilon = min over orders a of  RDP(a) + log1p(-1/a) - (log(delta) + log(a)) / (a - 1)
// (Balle et al. 2020 / Canonne, Kamath and Steinke 2020, as dp_accounting and Opacus compute it).
//
// Integer orders use the exact binomial expansion; fractional orders the two-sided series of the same paper
// (Section 3.3), both summed in log space so that large orders and long runs neither overflow nor underflow.
// All functions are pure and thread-safe.
#ifndef FEDLOG_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
#define FEDLOG_COMMON_PRIVACY_RDP_ACCOUNTANT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::privacy {

// dp_accounting's default orders: 1.1, 1.2, ..., 10.9, 11, 12, ..., 63, 128, 256, 512, 1024.
std::vector<double> DefaultOrders();

// RDP of ONE step of the sampled Gaussian mechanism at `order` (> 1): log(A_order) / (order - 1).
// q in [0, 1], sigma >= 0 (sigma == 0 with q > 0 gives +infinity). InvalidArgument for values out of range;
// Internal when the fractional series fails to converge (never observed for sigma >= 0.1).
absl::StatusOr<double> SampledGaussianRdp(double q, double sigma, double order);

// RDP of `steps` steps at every order of `orders` (each > 1).
absl::StatusOr<std::vector<double>> SampledGaussianRdp(double q, double sigma, int64_t steps,
                                                       absl::Span<const double> orders);

struct EpsilonAtOrder {
  double epsilon = 0;  // >= 0; +infinity when no order gives a finite value
  double order = 0;    // the order that attains the minimum
};

// Converts an RDP curve (rdp[i] at orders[i]) to the smallest epsilon for `delta` in (0, 1).
absl::StatusOr<EpsilonAtOrder> RdpToEpsilon(absl::Span<const double> orders, absl::Span<const double> rdp,
                                            double delta);

// Epsilon of `steps` steps of the sampled Gaussian mechanism with (q, sigma) at `delta`.
absl::StatusOr<EpsilonAtOrder> SampledGaussianEpsilon(double q, double sigma, int64_t steps, double delta,
                                                      absl::Span<const double> orders);

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
