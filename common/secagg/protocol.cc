#include "common/secagg/protocol.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::secagg {
namespace {

void AppendU32(uint32_t v, std::string* out) {
  for (int b = 0; b < 4; ++b) out->push_back(static_cast<char>(v >> (8 * b)));
}
uint32_t ReadU32(absl::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t b = 0; b < 4; ++b) v |= uint32_t{static_cast<uint8_t>(s[at + b])} << (8 * b);
  return v;
}

}  // namespace

absl::Status ValidateRoundConfig(const RoundConfig& c) {
  if (c.session_id.empty() || c.session_id.size() > 256) {
    return absl::InvalidArgumentError("secure aggregation session id must be 1..256 bytes");
  }
  if (c.quantization.max_sites < 1 || c.quantization.max_sites > kMaxSites) {
    return absl::InvalidArgumentError(absl::StrCat("max_sites must be in [1, ", kMaxSites, "]"));
  }
  if (c.threshold < 1 || c.threshold > c.quantization.max_sites) {
    return absl::InvalidArgumentError(absl::StrCat("threshold ", c.threshold, " not in [1, max_sites]"));
  }
  if (c.vector_length < 1 || c.vector_length > kMaxVectorLength) {
    return absl::InvalidArgumentError(absl::StrCat("vector length ", c.vector_length, " not in [1, 2^28]"));
  }
  return Quantizer::Create(c.quantization).status();
}

absl::StatusOr<SecretKey> PairwiseMaskSeed(const SecretKey& mask_private_key, const PublicKey& peer_mask_key,
                                           absl::string_view session_id) {
  FEDLOG_ASSIGN_OR_RETURN(SecretKey shared, X25519Agree(mask_private_key, peer_mask_key));
  return HkdfSha256(shared, session_id, "fedlog secagg v1 pairwise mask");
}

absl::StatusOr<SecretKey> ShareEncryptionKey(const SecretKey& encryption_private_key,
                                             const PublicKey& peer_encryption_key, absl::string_view session_id) {
  FEDLOG_ASSIGN_OR_RETURN(SecretKey shared, X25519Agree(encryption_private_key, peer_encryption_key));
  return HkdfSha256(shared, session_id, "fedlog secagg v1 share encryption");
}

absl::StatusOr<Commitment> SeedCommitment(const SecretKey& seed, absl::string_view session_id) {
  std::string prefix = absl::StrCat("fedlog secagg v", kProtocolVersion, " self-mask seed commitment|");
  AppendU32(static_cast<uint32_t>(session_id.size()), &prefix);
  absl::StrAppend(&prefix, session_id);
  Commitment out;
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, prefix.data(), prefix.size()) == 1 &&
                  EVP_DigestUpdate(ctx, seed.data(), seed.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size();
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("SHA-256 of the seed commitment failed");
  return out;
}

std::string ShareAad(absl::string_view session_id, uint32_t from, uint32_t to) {
  std::string aad = absl::StrCat("fedlog secagg v", kProtocolVersion, "|", session_id, "|");
  AppendU32(from, &aad);
  AppendU32(to, &aad);
  return aad;
}

std::string EncodeSharePlaintext(uint32_t from, uint32_t to, const ShamirShare& key_share,
                                 const ShamirShare& seed_share) {
  std::string out;
  out.reserve(8 + 2 * kEncodedShareBytes);
  AppendU32(from, &out);
  AppendU32(to, &out);
  AppendShare(key_share, &out);
  AppendShare(seed_share, &out);
  return out;
}

absl::StatusOr<SharePlaintext> DecodeSharePlaintext(absl::string_view bytes) {
  if (bytes.size() != 8 + 2 * kEncodedShareBytes) return absl::InvalidArgumentError("share plaintext size");
  SharePlaintext p;
  p.from = ReadU32(bytes, 0);
  p.to = ReadU32(bytes, 4);
  FEDLOG_ASSIGN_OR_RETURN(p.key_share, DecodeShare(bytes.substr(8, kEncodedShareBytes)));
  FEDLOG_ASSIGN_OR_RETURN(p.seed_share, DecodeShare(bytes.substr(8 + kEncodedShareBytes, kEncodedShareBytes)));
  return p;
}

}  // namespace fedlog::secagg
