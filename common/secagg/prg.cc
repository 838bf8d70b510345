#include "common/secagg/prg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "common/base/openssl_ptr.h"

namespace fedlog::secagg {
namespace {

constexpr size_t kChunkBytes = 16384;  // 16 KiB: key stream and lanes stay in L1/L2
alignas(64) const unsigned char kZeros[kChunkBytes] = {};

using CipherCtx = ossl::CipherCtxPtr;

// An AES-256-CTR context keyed by `seed` at the start of its key stream.
absl::StatusOr<CipherCtx> StartStream(const SecretKey& seed) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  const unsigned char iv[16] = {0};
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, seed.data(), iv) != 1) {
    return absl::InternalError("cannot initialise AES-256-CTR for the mask PRG");
  }
  return ctx;
}

// Writes the next `bytes` bytes of `ctx`'s key stream into `ks`.
bool NextKeyStream(EVP_CIPHER_CTX* ctx, unsigned char* ks, size_t bytes) {
  int len = 0;
  // CTR: encrypting zeros gives the key stream itself.
  return EVP_EncryptUpdate(ctx, ks, &len, kZeros, static_cast<int>(bytes)) == 1;
}

}  // namespace

struct MaskStreams::Impl {
  std::vector<CipherCtx> ctxs;
  std::vector<MaskSign> signs;
  // One key-stream chunk, typed by the lane width that reads it (OpenSSL writes it as bytes).
  alignas(64) uint32_t ks32[kChunkBytes / 4];
  alignas(64) uint64_t ks64[kChunkBytes / 8];
  template <typename Lane>
  Lane* KeyStream() {
    if constexpr (sizeof(Lane) == 4) {
      return ks32;
    } else {
      return ks64;
    }
  }
  ~Impl() {
    OPENSSL_cleanse(ks32, sizeof(ks32));
    OPENSSL_cleanse(ks64, sizeof(ks64));
  }
};

MaskStreams::MaskStreams(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MaskStreams::MaskStreams(MaskStreams&&) noexcept = default;
MaskStreams& MaskStreams::operator=(MaskStreams&&) noexcept = default;
MaskStreams::~MaskStreams() = default;

absl::StatusOr<MaskStreams> MaskStreams::Start(absl::Span<const MaskTerm> terms) {
  auto impl = std::make_unique<Impl>();
  impl->ctxs.reserve(terms.size());
  for (const MaskTerm& t : terms) {
    if (t.seed == nullptr) return absl::InvalidArgumentError("mask term without a seed");
    absl::StatusOr<CipherCtx> ctx = StartStream(*t.seed);
    if (!ctx.ok()) return ctx.status();
    impl->ctxs.push_back(*std::move(ctx));
    impl->signs.push_back(t.sign);
  }
  return MaskStreams(std::move(impl));
}

template <typename Lane>
absl::Status MaskStreams::Apply(absl::Span<Lane> piece) {
  constexpr size_t kChunkLanes = kChunkBytes / sizeof(Lane);
  Lane* ks = impl_->KeyStream<Lane>();
  for (size_t off = 0; off < piece.size(); off += kChunkLanes) {
    const size_t count = std::min(kChunkLanes, piece.size() - off);
    Lane* v = piece.data() + off;
    for (size_t k = 0; k < impl_->ctxs.size(); ++k) {
      if (!NextKeyStream(impl_->ctxs[k].get(), reinterpret_cast<unsigned char*>(ks), count * sizeof(Lane))) {
        return absl::InternalError("AES-256-CTR failed in the mask PRG");
      }
      if (impl_->signs[k] == MaskSign::kAdd) {
        for (size_t i = 0; i < count; ++i) v[i] += ks[i];
      } else {
        for (size_t i = 0; i < count; ++i) v[i] -= ks[i];
      }
    }
  }
  return absl::OkStatus();
}

template <typename Lane>
absl::Status ApplyMasks(absl::Span<const MaskTerm> terms, absl::Span<Lane> lanes) {
  absl::StatusOr<MaskStreams> streams = MaskStreams::Start(terms);
  if (!streams.ok()) return streams.status();
  return streams->Apply(lanes);
}

template <typename Lane>
absl::Status ApplyMask(const SecretKey& seed, MaskSign sign, absl::Span<Lane> lanes) {
  const MaskTerm term{&seed, sign};
  return ApplyMasks(absl::MakeConstSpan(&term, 1), lanes);
}

template <typename Lane>
absl::Status ExpandMask(const SecretKey& seed, absl::Span<Lane> out) {
  std::fill(out.begin(), out.end(), Lane{0});
  return ApplyMask(seed, MaskSign::kAdd, out);
}

template absl::Status MaskStreams::Apply<uint32_t>(absl::Span<uint32_t>);
template absl::Status MaskStreams::Apply<uint64_t>(absl::Span<uint64_t>);
template absl::Status ApplyMasks<uint32_t>(absl::Span<const MaskTerm>, absl::Span<uint32_t>);
template absl::Status ApplyMasks<uint64_t>(absl::Span<const MaskTerm>, absl::Span<uint64_t>);
template absl::Status ApplyMask<uint32_t>(const SecretKey&, MaskSign, absl::Span<uint32_t>);
template absl::Status ApplyMask<uint64_t>(const SecretKey&, MaskSign, absl::Span<uint64_t>);
template absl::Status ExpandMask<uint32_t>(const SecretKey&, absl::Span<uint32_t>);
template absl::Status ExpandMask<uint64_t>(const SecretKey&, absl::Span<uint64_t>);

}  // namespace fedlog::secagg
