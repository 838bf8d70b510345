// Authenticated secure aggregation against an aggregator that deviates actively (Bonawitz et al., CCS'17, the
// active variant's signatures and consistency check; protocol version 5). Each site signs, with the private key
// of its own mTLS certificate:
//  - its round keys (KeysSigningText: session, share-encryption key, mask key) when it advertises them; the
//    aggregator checks the signature against the caller's certificate and passes the certificate and signature
//    on in every roster entry, where each site checks the certificate against its CA, its identity against the
//    entry's site id, and the signature against the entry's keys. An aggregator that puts keys of its own in a
//    roster (to learn a site's pairwise masks and shares) cannot sign them as that site;
//  - once, the survivor set the aggregator asks it to confirm (SurvivorsSigningText: session, survivors,
//    dropped). A site reveals shares only for an unmask request whose survivor and dropped sets are the ones it
//    signed and that carries valid signatures over them from at least the threshold of its survivors. With a
//    threshold above half the roster, no two different sets can both gather that many honest signatures, so
//    an aggregator cannot tell one site that v dropped (to get v's mask-key shares) and another that v survived
//    (to get v's self-mask shares).
// What it rests on: the CA's key is not the aggregator's (certs/make-dev-pki.sh keeps it with the operator; an
// aggregator holding it could mint a certificate for any site id) and each site keeps its own key.
// Only OpenSSL; no torch, no gRPC. Thread-safe (stateless functions; the classes are immutable once built).
#ifndef FEDLOG_COMMON_SECAGG_PEER_AUTH_H_
#define FEDLOG_COMMON_SECAGG_PEER_AUTH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/secagg/crypto.h"

namespace fedlog::secagg {

// The longest signature accepted from a peer (an ECDSA P-521 or RSA-8192 signature fits).
inline constexpr size_t kMaxSignatureBytes = 1024;
// The longest certificate (PEM) accepted in a roster entry.
inline constexpr size_t kMaxCertificateBytes = 16384;

// What a site signs: fixed labels, length-prefixed fields, so that no text of one kind reads as another.
std::string KeysSigningText(std::string_view session_id, const PublicKey& encryption_key, const PublicKey& mask_key);
std::string SurvivorsSigningText(std::string_view session_id, const std::vector<uint32_t>& survivors,
                                 const std::vector<uint32_t>& dropped);

// Signs with a private key (PEM: EC, RSA or Ed25519; SHA-256 digests where the key type takes one).
class Signer {
 public:
  // InvalidArgument when the PEM holds no private key.
  static absl::StatusOr<std::unique_ptr<Signer>> FromPem(const std::string& key_pem);
  ~Signer();
  absl::StatusOr<std::string> Sign(std::string_view text) const;

 private:
  struct Key;
  explicit Signer(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

// OK when `signature` over `text` verifies under the public key of `certificate_pem`; Unauthenticated when it
// does not, InvalidArgument when the certificate does not parse or the signature is empty or too long.
absl::Status VerifySignature(const std::string& certificate_pem, std::string_view text, std::string_view signature);

// Checks peers' certificates against the CA a site trusts.
class CertificateChecker {
 public:
  // InvalidArgument when `ca_pem` holds no certificate.
  static absl::StatusOr<std::unique_ptr<CertificateChecker>> FromCaPem(const std::string& ca_pem);
  ~CertificateChecker();
  // OK when `certificate_pem` chains to the CA, is valid now, and names `site_id` with the role "site"
  // (net::IdentityFromPem); Unauthenticated otherwise, with the reason.
  absl::Status CheckSite(const std::string& certificate_pem, const std::string& site_id) const;

 private:
  struct Store;
  explicit CertificateChecker(std::unique_ptr<Store> store);
  std::unique_ptr<Store> store_;
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_PEER_AUTH_H_
