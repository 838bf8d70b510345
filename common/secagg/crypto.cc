#include "common/secagg/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

#include "common/base/openssl_ptr.h"
#include "common/base/status_macros.h"

namespace fedlog::secagg {
namespace {

using Pkey = ossl::PkeyPtr;

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

absl::StatusOr<Pkey> PrivateKeyOf(const SecretKey& k) {
  Pkey p(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, k.data(), k.size()));
  if (!p) return absl::InternalError("cannot load an X25519 private key");
  return p;
}

}  // namespace

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

absl::StatusOr<SecretKey> SecretKey::Random() {
  SecretKey k;
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) return absl::InternalError("RAND_bytes failed");
  return k;
}

bool SecretKey::operator==(const SecretKey& o) const { return CRYPTO_memcmp(data(), o.data(), size()) == 0; }

absl::Status RandomBytes(absl::Span<uint8_t> out) {
  if (out.empty()) return absl::OkStatus();
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) return absl::InternalError("RAND_bytes failed");
  return absl::OkStatus();
}

absl::StatusOr<X25519KeyPair> GenerateX25519() {
  X25519KeyPair kp;
  absl::StatusOr<SecretKey> sk = SecretKey::Random();  // X25519 clamps any 32 bytes into a valid scalar
  if (!sk.ok()) return sk.status();
  kp.private_key = *sk;
  absl::StatusOr<PublicKey> pk = X25519PublicFromPrivate(kp.private_key);
  if (!pk.ok()) return pk.status();
  kp.public_key = *pk;
  return kp;
}

absl::StatusOr<PublicKey> X25519PublicFromPrivate(const SecretKey& private_key) {
  absl::StatusOr<Pkey> p = PrivateKeyOf(private_key);
  if (!p.ok()) return p.status();
  PublicKey pk;
  size_t len = pk.size();
  if (EVP_PKEY_get_raw_public_key(p->get(), pk.data(), &len) != 1 || len != pk.size()) {
    return absl::InternalError("cannot derive an X25519 public key");
  }
  return pk;
}

absl::StatusOr<SecretKey> X25519Agree(const SecretKey& private_key, const PublicKey& peer) {
  absl::StatusOr<Pkey> mine = PrivateKeyOf(private_key);
  if (!mine.ok()) return mine.status();
  Pkey theirs(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()));
  if (!theirs) return absl::InvalidArgumentError("peer X25519 public key is malformed");
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new(mine->get(), nullptr));
  SecretKey out;
  size_t len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    return absl::InvalidArgumentError("X25519 key agreement failed (low-order or malformed peer key)");
  }
  uint8_t acc = 0;
  for (size_t i = 0; i < out.size(); ++i) acc |= out.data()[i];
  if (acc == 0) return absl::InvalidArgumentError("X25519 key agreement gave the all-zero secret");
  return out;
}

absl::Status CheckX25519PublicKey(const PublicKey& key) {
  FEDLOG_ASSIGN_OR_RETURN(X25519KeyPair probe, GenerateX25519());
  absl::StatusOr<SecretKey> shared = X25519Agree(probe.private_key, key);
  if (absl::IsInvalidArgument(shared.status())) {
    return absl::InvalidArgumentError("X25519 public key of small order (no site can agree a secret with it)");
  }
  return shared.status();
}

absl::StatusOr<SecretKey> HkdfSha256(const SecretKey& ikm, absl::string_view salt, absl::string_view info) {
  ossl::KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return absl::InternalError("OpenSSL has no HKDF");
  ossl::KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return absl::InternalError("cannot create an HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  SecretKey out;
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return absl::InternalError("HKDF failed");
  return out;
}

absl::StatusOr<std::string> AesGcmSeal(const SecretKey& key, absl::string_view plaintext, absl::string_view aad) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, kNonceBytes) != 1) return absl::InternalError("RAND_bytes failed");
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), o) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, o + kNonceBytes + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> AesGcmOpen(const SecretKey& key, absl::string_view sealed, absl::string_view aad) {
  if (sealed.size() < kNonceBytes + kTagBytes) return absl::InvalidArgumentError("sealed message too short");
  const size_t n = sealed.size() - kNonceBytes - kTagBytes;
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string out(n, '\0');
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), s) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, s + kNonceBytes,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          const_cast<unsigned char*>(s + kNonceBytes + n)) != 1) {
    Wipe(&out);
    return absl::InternalError("AES-256-GCM decryption could not run");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1) {
    Wipe(&out);
    return absl::PermissionDeniedError("AES-256-GCM tag mismatch: share tampered with or not addressed to us");
  }
  return out;
}

void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

}  // namespace fedlog::secagg
