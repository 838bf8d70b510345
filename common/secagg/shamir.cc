#include "common/secagg/shamir.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace fedlog::secagg {
namespace {

constexpr size_t kLimbBytes[5] = {7, 7, 7, 7, 4};

uint64_t Reduce(unsigned __int128 v) {
  // 2^61 = 1 mod p: fold the high bits down twice, then one conditional subtraction.
  uint64_t lo = static_cast<uint64_t>(v & kShamirPrime);
  uint64_t hi = static_cast<uint64_t>(v >> 61);
  uint64_t r = lo + (hi & kShamirPrime) + (hi >> 61);
  r = (r & kShamirPrime) + (r >> 61);
  return r >= kShamirPrime ? r - kShamirPrime : r;
}
uint64_t Mul(uint64_t a, uint64_t b) { return Reduce(static_cast<unsigned __int128>(a) * b); }
uint64_t Add(uint64_t a, uint64_t b) { return Reduce(static_cast<unsigned __int128>(a) + b); }
uint64_t Sub(uint64_t a, uint64_t b) { return Add(a, kShamirPrime - b); }
uint64_t Pow(uint64_t a, uint64_t e) {
  uint64_t r = 1;
  while (e) {
    if (e & 1) r = Mul(r, a);
    a = Mul(a, a);
    e >>= 1;
  }
  return r;
}
uint64_t Inv(uint64_t a) { return Pow(a, kShamirPrime - 2); }

absl::StatusOr<uint64_t> RandomFieldElement() {
  while (true) {  // rejection sampling: uniform on [0, p)
    uint64_t v;
    if (absl::Status s = RandomBytes({reinterpret_cast<uint8_t*>(&v), sizeof(v)}); !s.ok()) return s;
    v &= kShamirPrime;
    if (v < kShamirPrime) return v;
  }
}

// The polynomial through `points` (distinct x) in barycentric form: w_j = 1 / prod_{m != j} (x_j - x_m), O(t^2)
// multiplications and t inversions once, then O(t) and one inversion per point evaluated.
class Interpolant {
 public:
  explicit Interpolant(absl::Span<const ShamirShare* const> points) : points_(points), w_(points.size()) {
    for (size_t j = 0; j < points.size(); ++j) {
      uint64_t den = 1;
      for (size_t m = 0; m < points.size(); ++m) {
        if (m != j) den = Mul(den, Sub(points[j]->x, points[m]->x));
      }
      w_[j] = Inv(den);
    }
  }
  // The five limb values at `at`, which must differ from every point's x:
  // L(at) * sum_j w_j y_j / (at - x_j) with L(at) = prod_j (at - x_j); the t inverses by one batch inversion.
  std::array<uint64_t, 5> At(uint64_t at) const {
    const size_t t = points_.size();
    std::vector<uint64_t> d(t), prefix(t + 1, 1);
    for (size_t j = 0; j < t; ++j) {
      d[j] = Sub(at, points_[j]->x);
      prefix[j + 1] = Mul(prefix[j], d[j]);
    }
    const uint64_t whole = prefix[t];  // L(at)
    uint64_t inv = Inv(whole);         // 1 / prod d, then peeled back to 1 / d_j
    std::array<uint64_t, 5> out{};
    for (size_t j = t; j-- > 0;) {
      const uint64_t c = Mul(w_[j], Mul(inv, prefix[j]));  // w_j / d_j
      inv = Mul(inv, d[j]);
      for (size_t limb = 0; limb < 5; ++limb) out[limb] = Add(out[limb], Mul(c, points_[j]->y[limb]));
    }
    for (uint64_t& v : out) v = Mul(v, whole);
    return out;
  }

 private:
  absl::Span<const ShamirShare* const> points_;
  std::vector<uint64_t> w_;
};

// The secret whose limbs are `limbs`; DataLoss when a limb is wider than its bytes.
absl::StatusOr<SecretKey> SecretFromLimbs(const std::array<uint64_t, 5>& limbs) {
  SecretKey out;
  size_t byte = 0;
  for (size_t limb = 0; limb < 5; ++limb) {
    const uint64_t s = limbs[limb];
    if (s >> (8 * kLimbBytes[limb]) != 0) return absl::DataLossError("Shamir shares do not encode a 32-byte secret");
    for (size_t b = 0; b < kLimbBytes[limb]; ++b) out.data()[byte + b] = static_cast<uint8_t>(s >> (8 * b));
    byte += kLimbBytes[limb];
  }
  return out;
}

// Advances `c` (ascending indices below n) to the next combination in lexicographic order; false after the last.
bool NextCombination(std::vector<size_t>* c, size_t n) {
  const size_t k = c->size();
  for (size_t i = k; i-- > 0;) {
    if ((*c)[i] < n - k + i) {
      ++(*c)[i];
      for (size_t j = i + 1; j < k; ++j) (*c)[j] = (*c)[j - 1] + 1;
      return true;
    }
  }
  return false;
}

}  // namespace

ShamirShare::~ShamirShare() { OPENSSL_cleanse(y.data(), sizeof(y)); }

absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(const SecretKey& secret, int threshold,
                                                     absl::Span<const uint32_t> xs) {
  if (threshold < 1 || static_cast<size_t>(threshold) > xs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("threshold ", threshold, " not in [1, ", xs.size(), "]"));
  }
  std::set<uint32_t> seen;
  for (uint32_t x : xs) {
    if (x == 0 || !seen.insert(x).second) return absl::InvalidArgumentError("share points must be distinct, non-zero");
  }
  std::vector<ShamirShare> shares(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) shares[i].x = xs[i];
  std::vector<uint64_t> coef(static_cast<size_t>(threshold));
  size_t byte = 0;
  for (size_t limb = 0; limb < 5; ++limb) {
    uint64_t s = 0;
    for (size_t b = 0; b < kLimbBytes[limb]; ++b) s |= uint64_t{secret.data()[byte + b]} << (8 * b);
    byte += kLimbBytes[limb];
    coef[0] = s;
    for (size_t k = 1; k < coef.size(); ++k) {
      absl::StatusOr<uint64_t> r = RandomFieldElement();
      if (!r.ok()) return r.status();
      coef[k] = *r;
    }
    for (ShamirShare& sh : shares) {  // Horner
      uint64_t acc = 0;
      for (size_t k = coef.size(); k-- > 0;) acc = Add(Mul(acc, sh.x), coef[k]);
      sh.y[limb] = acc;
    }
  }
  OPENSSL_cleanse(coef.data(), coef.size() * sizeof(uint64_t));
  return shares;
}

absl::StatusOr<SecretKey> ShamirCombine(absl::Span<const ShamirShare> shares, int threshold) {
  if (threshold < 1 || shares.size() < static_cast<size_t>(threshold)) {
    return absl::InvalidArgumentError(absl::StrCat("need ", threshold, " shares, have ", shares.size()));
  }
  const size_t t = static_cast<size_t>(threshold);
  std::set<uint32_t> seen;
  for (size_t i = 0; i < t; ++i) {
    if (shares[i].x == 0 || !seen.insert(shares[i].x).second) {
      return absl::InvalidArgumentError("shares must come from distinct, non-zero points");
    }
  }
  std::vector<const ShamirShare*> points;
  for (size_t i = 0; i < t; ++i) points.push_back(&shares[i]);
  std::array<uint64_t, 5> limbs = Interpolant(points).At(0);
  absl::StatusOr<SecretKey> secret = SecretFromLimbs(limbs);
  OPENSSL_cleanse(limbs.data(), sizeof(limbs));
  return secret;
}

absl::StatusOr<CheckedSecret> ShamirCombineChecked(absl::Span<const ShamirShare> shares, int threshold,
                                                   const std::function<bool(const SecretKey&)>& check,
                                                   int max_tries) {
  if (threshold < 1 || shares.size() < static_cast<size_t>(threshold)) {
    return absl::InvalidArgumentError(absl::StrCat("need ", threshold, " shares, have ", shares.size()));
  }
  std::set<uint32_t> seen;
  for (const ShamirShare& s : shares) {
    if (s.x == 0 || !seen.insert(s.x).second) {
      return absl::InvalidArgumentError("shares must come from distinct, non-zero points");
    }
  }
  const size_t t = static_cast<size_t>(threshold), m = shares.size();
  int tries = 0;
  std::vector<const ShamirShare*> subset;
  // Level e: the first t + e shares, the last of them always in, e of the others left out (level e - 1 has
  // tried every subset without the last one). One bad point among the first t + 1 is found at level 1.
  for (size_t e = 0; e + t <= m; ++e) {
    std::vector<size_t> out(e);
    for (size_t i = 0; i < e; ++i) out[i] = i;
    do {
      if (tries++ >= max_tries) {
        return absl::DataLossError(absl::StrCat("no ", t, " of the ", m, " shares reconstruct a secret that passes "
                                                "its check within ", max_tries, " tries"));
      }
      subset.clear();
      for (size_t i = 0, k = 0; i < t + e; ++i) {
        if (k < e && out[k] == i) {
          ++k;
        } else {
          subset.push_back(&shares[i]);
        }
      }
      const Interpolant poly(subset);
      std::array<uint64_t, 5> limbs = poly.At(0);
      absl::StatusOr<SecretKey> secret = SecretFromLimbs(limbs);
      OPENSSL_cleanse(limbs.data(), sizeof(limbs));
      if (!secret.ok() || !check(*secret)) continue;
      CheckedSecret result{*std::move(secret), {}};
      for (const ShamirShare& s : shares) {
        if (std::find(subset.begin(), subset.end(), &s) != subset.end()) continue;
        if (poly.At(s.x) != s.y) result.bad_points.push_back(s.x);
      }
      std::sort(result.bad_points.begin(), result.bad_points.end());
      return result;
    } while (e > 0 && NextCombination(&out, t + e - 1));
  }
  return absl::DataLossError(
      absl::StrCat("no ", t, " of the ", m, " shares reconstruct a secret that passes its check"));
}

void AppendShare(const ShamirShare& share, std::string* out) {
  for (int b = 0; b < 4; ++b) out->push_back(static_cast<char>(share.x >> (8 * b)));
  for (uint64_t v : share.y) {
    for (int b = 0; b < 8; ++b) out->push_back(static_cast<char>(v >> (8 * b)));
  }
}

absl::StatusOr<ShamirShare> DecodeShare(absl::string_view bytes) {
  if (bytes.size() != kEncodedShareBytes) return absl::InvalidArgumentError("encoded share has the wrong size");
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  ShamirShare s;
  for (int b = 0; b < 4; ++b) s.x |= uint32_t{p[b]} << (8 * b);
  for (size_t i = 0; i < 5; ++i) {
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= uint64_t{p[4 + 8 * i + static_cast<size_t>(b)]} << (8 * b);
    if (v >= kShamirPrime) return absl::InvalidArgumentError("share value outside the field");
    s.y[i] = v;
  }
  if (s.x == 0) return absl::InvalidArgumentError("share point 0 is the secret itself");
  return s;
}

}  // namespace fedlog::secagg
