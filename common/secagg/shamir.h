// t-of-n Shamir secret sharing of 32-byte secrets over the prime field GF(2^61 - 1). The secret is cut into
// five limbs of at most 56 bits (7+7+7+7+4 bytes), each shared with its own random polynomial of degree t-1
// whose coefficients come from RAND_bytes; a share is the five polynomial values at the holder's x (1..n).
// Any t shares give the secret by Lagrange interpolation at 0; t-1 shares are independent of it.
// Shares are secret material: ShamirShare wipes itself when destroyed. Thread-safe.
#ifndef FEDLOG_COMMON_SECAGG_SHAMIR_H_
#define FEDLOG_COMMON_SECAGG_SHAMIR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/secagg/crypto.h"

namespace fedlog::secagg {

constexpr uint64_t kShamirPrime = (uint64_t{1} << 61) - 1;

struct ShamirShare {
  uint32_t x = 0;                 // the holder's evaluation point, 1..n
  std::array<uint64_t, 5> y{};    // polynomial values, one per limb
  ~ShamirShare();
  ShamirShare() = default;
  ShamirShare(const ShamirShare&) = default;
  ShamirShare& operator=(const ShamirShare&) = default;
};

constexpr size_t kEncodedShareBytes = 4 + 5 * 8;

// Shares `secret` among the holders at `xs` (distinct, non-zero) so that any `threshold` of them recover it.
// InvalidArgument for threshold < 1, threshold > xs.size(), or repeated or zero points.
absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(const SecretKey& secret, int threshold,
                                                     absl::Span<const uint32_t> xs);

// Recovers the secret from the first `threshold` of `shares` (distinct x). InvalidArgument when there are too
// few, and DataLoss when the result is not a valid encoding (shares corrupted or from different secrets).
absl::StatusOr<SecretKey> ShamirCombine(absl::Span<const ShamirShare> shares, int threshold);

// Robust reconstruction (docs/rules/s24-secshares.md): recovers the secret from `shares` (distinct, non-zero x)
// when at least `threshold` of them lie on the dealt polynomial and `check` accepts the secret (a commitment or
// a public key: a wrong point changes the secret, since every Lagrange coefficient at 0 is non-zero). The
// first `threshold` shares are tried, then t-subsets that leave out 1, 2, ... shares, at most `max_tries`
// interpolations in all. `bad_points` are the x of the shares off the polynomial that passed. InvalidArgument
// for too few or repeated points, DataLoss when no subset within the budget passes.
struct CheckedSecret {
  SecretKey secret;
  std::vector<uint32_t> bad_points;  // ascending
};
inline constexpr int kMaxReconstructionTries = 4096;
absl::StatusOr<CheckedSecret> ShamirCombineChecked(absl::Span<const ShamirShare> shares, int threshold,
                                                   const std::function<bool(const SecretKey&)>& check,
                                                   int max_tries = kMaxReconstructionTries);

// Fixed-size little-endian encoding (kEncodedShareBytes). Decode rejects values outside the field.
void AppendShare(const ShamirShare& share, std::string* out);
absl::StatusOr<ShamirShare> DecodeShare(absl::string_view bytes);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_SHAMIR_H_
