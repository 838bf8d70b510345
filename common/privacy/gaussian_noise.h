// Gaussian noise for differential privacy from a cryptographically secure generator: an AES-256-CTR key stream
// whose key comes from OpenSSL's RAND_bytes, turned into normal variates by the Box-Muller transform on 53-bit
// uniforms. Nothing here uses std:: random engines, whose state an observer of a few outputs could recover.
//
// Known limit (docs/PRIVACY.md): the variates are IEEE doubles, not a discrete Gaussian; floating-point
// artefacts in the low bits are not covered by the DP proof (Mironov 2012 shows such an attack on the Laplace
// mechanism). The noise is added to float32 updates, whose rounding hides those bits in practice.
// If OpenSSL ever fails to produce the key stream and RAND_bytes fails too, the process aborts rather than add
// predictable noise. Thread-compatible: one sampler per thread.
#ifndef FEDLOG_COMMON_PRIVACY_GAUSSIAN_NOISE_H_
#define FEDLOG_COMMON_PRIVACY_GAUSSIAN_NOISE_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::privacy {

class GaussianSampler {
 public:
  // A sampler keyed from RAND_bytes. Internal when OpenSSL cannot supply randomness.
  static absl::StatusOr<GaussianSampler> Create();
  // A reproducible sampler for tests and experiments: the same key gives the same variates. Never use it for
  // noise that protects real data.
  static absl::StatusOr<GaussianSampler> CreateWithKeyForTesting(const std::array<uint8_t, 32>& key);

  GaussianSampler(GaussianSampler&&) noexcept;
  GaussianSampler& operator=(GaussianSampler&&) noexcept;
  ~GaussianSampler();

  double Next();                   // one N(0, 1) variate
  uint64_t NextUint64();           // 64 uniformly random bits from the same stream
  // v[i] += stddev * N(0, 1) for every i.
  void AddNoise(absl::Span<float> v, double stddev);

 private:
  struct Impl;
  explicit GaussianSampler(std::unique_ptr<Impl> impl);
  static absl::StatusOr<GaussianSampler> FromKey(const std::array<uint8_t, 32>& key);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_GAUSSIAN_NOISE_H_
