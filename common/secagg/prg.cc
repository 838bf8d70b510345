#include "common/secagg/prg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::secagg {
namespace {

constexpr size_t kChunkLanes = 2048;  // 16 KiB: key stream and lanes stay in L1/L2
alignas(64) const uint64_t kZeros[kChunkLanes] = {};

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// An AES-256-CTR context keyed by `seed` at the start of its key stream.
absl::StatusOr<CipherCtx> StartStream(const SecretKey& seed) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  const unsigned char iv[16] = {0};
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, seed.data(), iv) != 1) {
    return absl::InternalError("cannot initialise AES-256-CTR for the mask PRG");
  }
  return ctx;
}

// Writes the next `count` lanes of `ctx`'s key stream into `ks`.
bool NextKeyStream(EVP_CIPHER_CTX* ctx, uint64_t* ks, size_t count) {
  int len = 0;
  // CTR: encrypting zeros gives the key stream itself.
  return EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(ks), &len,
                           reinterpret_cast<const unsigned char*>(kZeros), static_cast<int>(count * 8)) == 1;
}

// Calls fn(offset, stream, count) for consecutive chunks of the key stream covering `n` lanes.
template <typename Fn>
absl::Status Stream(const SecretKey& seed, size_t n, Fn fn) {
  absl::StatusOr<CipherCtx> started = StartStream(seed);
  if (!started.ok()) return started.status();
  CipherCtx ctx = *std::move(started);
  alignas(64) std::array<uint64_t, kChunkLanes> ks;
  for (size_t off = 0; off < n; off += kChunkLanes) {
    const size_t count = std::min(kChunkLanes, n - off);
    if (!NextKeyStream(ctx.get(), ks.data(), count)) {
      OPENSSL_cleanse(ks.data(), sizeof(ks));
      return absl::InternalError("AES-256-CTR failed in the mask PRG");
    }
    fn(off, ks.data(), count);
  }
  OPENSSL_cleanse(ks.data(), sizeof(ks));
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyMask(const SecretKey& seed, MaskSign sign, absl::Span<uint64_t> lanes) {
  uint64_t* v = lanes.data();
  if (sign == MaskSign::kAdd) {
    return Stream(seed, lanes.size(), [v](size_t off, const uint64_t* ks, size_t count) {
      for (size_t i = 0; i < count; ++i) v[off + i] += ks[i];
    });
  }
  return Stream(seed, lanes.size(), [v](size_t off, const uint64_t* ks, size_t count) {
    for (size_t i = 0; i < count; ++i) v[off + i] -= ks[i];
  });
}

absl::Status ApplyMasks(absl::Span<const MaskTerm> terms, absl::Span<uint64_t> lanes) {
  std::vector<CipherCtx> ctxs;
  ctxs.reserve(terms.size());
  for (const MaskTerm& t : terms) {
    if (t.seed == nullptr) return absl::InvalidArgumentError("mask term without a seed");
    absl::StatusOr<CipherCtx> ctx = StartStream(*t.seed);
    if (!ctx.ok()) return ctx.status();
    ctxs.push_back(*std::move(ctx));
  }
  alignas(64) std::array<uint64_t, kChunkLanes> ks;
  absl::Status st;
  for (size_t off = 0; off < lanes.size() && st.ok(); off += kChunkLanes) {
    const size_t count = std::min(kChunkLanes, lanes.size() - off);
    uint64_t* v = lanes.data() + off;
    for (size_t k = 0; k < terms.size(); ++k) {
      if (!NextKeyStream(ctxs[k].get(), ks.data(), count)) {
        st = absl::InternalError("AES-256-CTR failed in the mask PRG");
        break;
      }
      if (terms[k].sign == MaskSign::kAdd) {
        for (size_t i = 0; i < count; ++i) v[i] += ks[i];
      } else {
        for (size_t i = 0; i < count; ++i) v[i] -= ks[i];
      }
    }
  }
  OPENSSL_cleanse(ks.data(), sizeof(ks));
  return st;
}

absl::Status ExpandMask(const SecretKey& seed, absl::Span<uint64_t> out) {
  uint64_t* v = out.data();
  return Stream(seed, out.size(), [v](size_t off, const uint64_t* ks, size_t count) {
    std::copy(ks, ks + count, v + off);
  });
}

}  // namespace fedlog::secagg
