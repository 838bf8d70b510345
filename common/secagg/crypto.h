// The cryptographic primitives of secure aggregation, as thin wrappers over OpenSSL 3 (EVP): X25519 key
// agreement, HKDF-SHA256, AES-256-GCM authenticated encryption and RAND_bytes. Secret material lives in
// SecretKey, which wipes itself (OPENSSL_cleanse) when destroyed and has no printing or string conversion, so a
// key cannot end up in a log line by accident.
// All functions are thread-safe.
#ifndef FEDLOG_COMMON_SECAGG_CRYPTO_H_
#define FEDLOG_COMMON_SECAGG_CRYPTO_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fedlog::secagg {

using PublicKey = std::array<uint8_t, 32>;  // an X25519 public key (not secret)

// 32 secret bytes: a private key, a seed or a derived key.
class SecretKey {
 public:
  SecretKey() { bytes_.fill(0); }
  explicit SecretKey(const std::array<uint8_t, 32>& bytes) : bytes_(bytes) {}
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();

  // A fresh key from RAND_bytes.
  static absl::StatusOr<SecretKey> Random();

  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* data() { return bytes_.data(); }
  static constexpr size_t size() { return 32; }
  bool operator==(const SecretKey& o) const;  // constant time

 private:
  std::array<uint8_t, 32> bytes_;
};

struct X25519KeyPair {
  PublicKey public_key;
  SecretKey private_key;
};

// Fills `out` from RAND_bytes; Internal when OpenSSL has no randomness.
absl::Status RandomBytes(absl::Span<uint8_t> out);

absl::StatusOr<X25519KeyPair> GenerateX25519();
// The public key of a private key (to check a reconstructed key against the advertised one).
absl::StatusOr<PublicKey> X25519PublicFromPrivate(const SecretKey& private_key);
// The shared secret of `private_key` and `peer`. InvalidArgument for a low-order peer key (all-zero secret).
absl::StatusOr<SecretKey> X25519Agree(const SecretKey& private_key, const PublicKey& peer);
// OK when every peer can agree a secret with `key`: InvalidArgument for a point of small order (all zeros among
// them), with which X25519 gives the all-zero secret whatever the peer's private key (its scalar is a multiple
// of the cofactor 8), so that no honest site could share with or mask against it. Checked by agreeing with a
// fresh random key.
absl::Status CheckX25519PublicKey(const PublicKey& key);

// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`, 32 bytes of output.
absl::StatusOr<SecretKey> HkdfSha256(const SecretKey& ikm, absl::string_view salt, absl::string_view info);

// AES-256-GCM with a random 96-bit nonce: returns nonce || ciphertext || 128-bit tag, binding `aad`.
absl::StatusOr<std::string> AesGcmSeal(const SecretKey& key, absl::string_view plaintext, absl::string_view aad);
// Inverse of AesGcmSeal. PermissionDenied when the tag does not verify (tampered, wrong key or wrong aad).
// The caller owns the returned plaintext and should wipe it when it holds secrets.
absl::StatusOr<std::string> AesGcmOpen(const SecretKey& key, absl::string_view sealed, absl::string_view aad);

// Wipes a string that held secret bytes.
void Wipe(std::string* s);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_CRYPTO_H_
