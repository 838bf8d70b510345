#include "common/privacy/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedlog::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow; -inf is the log of zero.
double LogAdd(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double hi = std::max(a, b);
  return hi + std::log1p(std::exp(std::min(a, b) - hi));
}

// log(exp(a) - exp(b)) for a >= b.
double LogSub(double a, double b) {
  if (b == -kInf) return a;
  if (a == b) return -kInf;
  return a + std::log1p(-std::exp(b - a));
}

// log(erfc(x)) for any x. std::erfc underflows near x = 26.5; above 25 the asymptotic series
// erfc(x) = exp(-x^2) / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(2x^2)^2 - 15/(2x^2)^3 + ...) is used, whose first
// omitted term is below 1e-13 relative there.
double LogErfc(double x) {
  if (x < 25.0) return std::log(std::erfc(x));
  const double r = 1.0 / (2.0 * x * x);
  double term = 1.0, sum = 1.0;
  for (int k = 1; k <= 6; ++k) {
    term *= -(2.0 * k - 1.0) * r;
    sum += term;
  }
  return -x * x - std::log(x) - 0.5 * std::log(M_PI) + std::log(sum);
}

// log(A_alpha) for integer alpha: A = sum_{k=0}^{alpha} C(alpha,k) (1-q)^(alpha-k) q^k exp((k^2-k) / (2 sigma^2)).
double LogAInteger(double q, double sigma, int64_t alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  double log_a = -kInf, log_binom = 0.0;  // log C(alpha, 0)
  for (int64_t k = 0; k <= alpha; ++k) {
    if (k > 0) log_binom += std::log(static_cast<double>(alpha - k + 1)) - std::log(static_cast<double>(k));
    const double kd = static_cast<double>(k);
    const double term = log_binom + kd * log_q + static_cast<double>(alpha - k) * log_1mq + (kd * kd - kd) * inv_2s2;
    log_a = LogAdd(log_a, term);
  }
  return log_a;
}

// log(A_alpha) for fractional alpha: the two series of Mironov, Talwar and Zhang (2019, Sec. 3.3). With
// z0 = sigma^2 log(1/q - 1) + 1/2, the integral over the Gaussian mixture splits at z0 into
//   A0 = sum_i C(alpha,i) q^i (1-q)^(alpha-i) exp((i^2-i)/(2 sigma^2)) erfc((i - z0)/(sqrt(2) sigma)) / 2
//   A1 = sum_i C(alpha,i) q^(alpha-i) (1-q)^i exp((j^2-j)/(2 sigma^2)) erfc((z0 - j)/(sqrt(2) sigma)) / 2
// with j = alpha - i. The binomial coefficients turn negative (alternating) once i > alpha, so positive and
// negative terms are summed apart in log space and subtracted once at the end.
absl::StatusOr<double> LogAFractional(double q, double sigma, double alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  const double z0 = sigma * sigma * std::log(1.0 / q - 1.0) + 0.5;
  const double erfc_scale = 1.0 / (std::sqrt(2.0) * sigma);
  double log_pos = -kInf, log_neg = -kInf;
  double log_abs_binom = 0.0;  // log |C(alpha, 0)|
  bool negative = false;
  constexpr int64_t kMaxTerms = 20'000'000;
  for (int64_t i = 0; i < kMaxTerms; ++i) {
    const double id = static_cast<double>(i);
    if (i > 0) {
      const double factor = alpha - id + 1.0;  // C(alpha,i) = C(alpha,i-1) * (alpha-i+1) / i
      log_abs_binom += std::log(std::fabs(factor)) - std::log(id);
      if (factor < 0) negative = !negative;
    }
    const double j = alpha - id;
    const double log_t0 = log_abs_binom + id * log_q + j * log_1mq;
    const double log_t1 = log_abs_binom + j * log_q + id * log_1mq;
    const double log_s0 = log_t0 + (id * id - id) * inv_2s2 + std::log(0.5) + LogErfc((id - z0) * erfc_scale);
    const double log_s1 = log_t1 + (j * j - j) * inv_2s2 + std::log(0.5) + LogErfc((z0 - j) * erfc_scale);
    const double log_s = LogAdd(log_s0, log_s1);
    if (negative) {
      log_neg = LogAdd(log_neg, log_s);
    } else {
      log_pos = LogAdd(log_pos, log_s);
    }
    // A >= 1, so terms below e^-30 no longer matter; past alpha the terms only shrink.
    if (id > alpha && std::max(log_s0, log_s1) < -30.0) {
      if (log_neg >= log_pos) return absl::InternalError("RDP series: cancellation left a non-positive sum");
      return LogSub(log_pos, log_neg);
    }
  }
  return absl::InternalError(absl::StrCat("RDP series did not converge for order ", alpha, ", sigma ", sigma));
}

}  // namespace

std::vector<double> DefaultOrders() {
  std::vector<double> orders;
  for (int k = 11; k <= 109; ++k) orders.push_back(k / 10.0);
  for (int a = 11; a <= 63; ++a) orders.push_back(a);
  for (double a : {128.0, 256.0, 512.0, 1024.0}) orders.push_back(a);
  return orders;
}

absl::StatusOr<double> SampledGaussianRdp(double q, double sigma, double order) {
  if (!(q >= 0.0 && q <= 1.0)) return absl::InvalidArgumentError(absl::StrCat("sampling rate ", q, " not in [0, 1]"));
  if (!(sigma >= 0.0) || std::isinf(sigma)) {
    return absl::InvalidArgumentError(absl::StrCat("noise multiplier ", sigma, " must be finite and >= 0"));
  }
  if (!(order > 1.0) || std::isinf(order)) {
    return absl::InvalidArgumentError(absl::StrCat("RDP order ", order, " must be finite and > 1"));
  }
  if (q == 0.0) return 0.0;
  if (sigma == 0.0) return kInf;
  if (q == 1.0) return order / (2.0 * sigma * sigma);  // the plain Gaussian mechanism
  double log_a;
  if (order == std::floor(order) && order <= 1e7) {
    log_a = LogAInteger(q, sigma, static_cast<int64_t>(order));
  } else {
    absl::StatusOr<double> frac = LogAFractional(q, sigma, order);
    if (!frac.ok()) return frac.status();
    log_a = *frac;
  }
  return log_a / (order - 1.0);
}

absl::StatusOr<std::vector<double>> SampledGaussianRdp(double q, double sigma, int64_t steps,
                                                       absl::Span<const double> orders) {
  if (steps < 0) return absl::InvalidArgumentError(absl::StrCat("steps ", steps, " must be >= 0"));
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double a : orders) {
    absl::StatusOr<double> r = SampledGaussianRdp(q, sigma, a);
    if (!r.ok()) return r.status();
    rdp.push_back(*r * static_cast<double>(steps));
  }
  return rdp;
}

absl::StatusOr<EpsilonAtOrder> RdpToEpsilon(absl::Span<const double> orders, absl::Span<const double> rdp,
                                            double delta) {
  if (orders.empty() || orders.size() != rdp.size()) {
    return absl::InvalidArgumentError("RDP conversion needs one RDP value per order, and at least one order");
  }
  if (!(delta > 0.0 && delta < 1.0)) return absl::InvalidArgumentError(absl::StrCat("delta ", delta, " not in (0, 1)"));
  EpsilonAtOrder best{kInf, orders[0]};
  for (size_t i = 0; i < orders.size(); ++i) {
    const double a = orders[i], r = rdp[i];
    if (!(a >= 1.0)) return absl::InvalidArgumentError(absl::StrCat("RDP order ", a, " below 1"));
    if (!(r >= 0.0)) return absl::InvalidArgumentError(absl::StrCat("RDP value ", r, " at order ", a, " below 0"));
    double eps;
    if (delta * delta + std::expm1(-r) >= 0.0) {
      eps = 0.0;  // so little divergence that (0, delta)-DP already holds
    } else if (a > 1.01) {
      eps = r + std::log1p(-1.0 / a) - (std::log(delta) + std::log(a)) / (a - 1.0);
    } else {
      eps = kInf;  // the bound is useless this close to order 1
    }
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

absl::StatusOr<EpsilonAtOrder> SampledGaussianEpsilon(double q, double sigma, int64_t steps, double delta,
                                                      absl::Span<const double> orders) {
  absl::StatusOr<std::vector<double>> rdp = SampledGaussianRdp(q, sigma, steps, orders);
  if (!rdp.ok()) return rdp.status();
  return RdpToEpsilon(orders, *rdp, delta);
}

}  // namespace fedlog::privacy
