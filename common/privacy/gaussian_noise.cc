#include "common/privacy/gaussian_noise.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/base/logging.h"

namespace fedlog::privacy {

struct GaussianSampler::Impl {
  EVP_CIPHER_CTX* ctx = nullptr;
  std::array<uint64_t, 512> buf{};  // key stream, 4 KiB at a time
  size_t pos = 512;
  bool has_spare = false;
  double spare = 0;

  ~Impl() {
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(buf.data(), sizeof(buf));
  }

  void Refill() {
    std::memset(buf.data(), 0, sizeof(buf));
    int len = 0;
    // CTR mode: encrypting zeros yields the key stream. With a fresh 256-bit key and a 128-bit counter this
    // cannot repeat within any feasible run.
    if (EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(buf.data()), &len,
                          reinterpret_cast<const unsigned char*>(buf.data()), static_cast<int>(sizeof(buf))) != 1 &&
        RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(sizeof(buf))) != 1) {
      // Zeros would be predictable "noise" and silently void the privacy guarantee: fail closed.
      FEDLOG_LOG(ERROR) << "no randomness for DP noise (AES-CTR and RAND_bytes failed); aborting";
      std::abort();
    }
    pos = 0;
  }
};

GaussianSampler::GaussianSampler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GaussianSampler::GaussianSampler(GaussianSampler&&) noexcept = default;
GaussianSampler& GaussianSampler::operator=(GaussianSampler&&) noexcept = default;
GaussianSampler::~GaussianSampler() = default;

absl::StatusOr<GaussianSampler> GaussianSampler::FromKey(const std::array<uint8_t, 32>& key) {
  auto impl = std::make_unique<Impl>();
  impl->ctx = EVP_CIPHER_CTX_new();
  const unsigned char iv[16] = {0};
  if (impl->ctx == nullptr || EVP_EncryptInit_ex(impl->ctx, EVP_aes_256_ctr(), nullptr, key.data(), iv) != 1) {
    return absl::InternalError("cannot initialise AES-256-CTR for the noise generator");
  }
  return GaussianSampler(std::move(impl));
}

absl::StatusOr<GaussianSampler> GaussianSampler::Create() {
  std::array<uint8_t, 32> key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("RAND_bytes failed: no randomness for the noise generator");
  }
  absl::StatusOr<GaussianSampler> s = FromKey(key);
  OPENSSL_cleanse(key.data(), key.size());
  return s;
}

absl::StatusOr<GaussianSampler> GaussianSampler::CreateWithKeyForTesting(const std::array<uint8_t, 32>& key) {
  return FromKey(key);
}

uint64_t GaussianSampler::NextUint64() {
  if (impl_->pos == impl_->buf.size()) impl_->Refill();
  return impl_->buf[impl_->pos++];
}

double GaussianSampler::Next() {
  if (impl_->has_spare) {
    impl_->has_spare = false;
    return impl_->spare;
  }
  // u1 in (0, 1] so the logarithm is finite; u2 in [0, 1).
  const double u1 = static_cast<double>((NextUint64() >> 11) + 1) * 0x1p-53;
  const double u2 = static_cast<double>(NextUint64() >> 11) * 0x1p-53;
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * M_PI * u2;
  impl_->spare = r * std::sin(theta);
  impl_->has_spare = true;
  return r * std::cos(theta);
}

void GaussianSampler::AddNoise(absl::Span<float> v, double stddev) {
  for (float& x : v) x = static_cast<float>(static_cast<double>(x) + stddev * Next());
}

}  // namespace fedlog::privacy
