#include "common/secagg/peer_auth.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "absl/strings/str_cat.h"
#include "common/base/openssl_ptr.h"
#include "common/net/peer_id.h"

namespace fedlog::secagg {
namespace {

using ossl::BioPtr;
using ossl::MemBio;
using ossl::MdCtxPtr;
using KeyPtr = ossl::PkeyPtr;
using ossl::X509Ptr;

void AppendField(std::string* out, std::string_view field) {
  const uint64_t n = field.size();
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out->append(field);
}

void AppendIndices(std::string* out, const std::vector<uint32_t>& indices) {
  std::string packed;
  for (uint32_t v : indices) {
    for (int i = 0; i < 4; ++i) packed.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  AppendField(out, packed);
}

X509Ptr ParseCertificate(const std::string& pem) {
  if (pem.empty() || pem.size() > kMaxCertificateBytes) return nullptr;
  BioPtr bio = MemBio(pem);
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// SHA-256 for key types that hash their input; none for those that sign the message itself (Ed25519, Ed448).
const EVP_MD* DigestFor(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

}  // namespace

std::string KeysSigningText(std::string_view session_id, const PublicKey& encryption_key, const PublicKey& mask_key) {
  std::string out = "fedlog secagg v5 round keys";
  AppendField(&out, session_id);
  AppendField(&out, std::string_view(reinterpret_cast<const char*>(encryption_key.data()), encryption_key.size()));
  AppendField(&out, std::string_view(reinterpret_cast<const char*>(mask_key.data()), mask_key.size()));
  return out;
}

std::string SurvivorsSigningText(std::string_view session_id, const std::vector<uint32_t>& survivors,
                                 const std::vector<uint32_t>& dropped) {
  std::string out = "fedlog secagg v5 survivors";
  AppendField(&out, session_id);
  AppendIndices(&out, survivors);
  AppendIndices(&out, dropped);
  return out;
}

struct Signer::Key {
  KeyPtr pkey;
};

Signer::Signer(std::unique_ptr<Key> key) : key_(std::move(key)) {}
Signer::~Signer() = default;

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromPem(const std::string& key_pem) {
  BioPtr bio = MemBio(key_pem);
  if (!bio) return absl::InternalError("BIO_new_mem_buf failed");
  auto key = std::make_unique<Key>();
  key->pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key->pkey) return absl::InvalidArgumentError("the site's key file holds no private key (PEM)");
  return std::unique_ptr<Signer>(new Signer(std::move(key)));
}

absl::StatusOr<std::string> Signer::Sign(std::string_view text) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(key_->pkey.get()), nullptr, key_->pkey.get()) != 1) {
    return absl::InternalError("cannot start a signature with the site's key");
  }
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(text.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, text.size()) != 1) return absl::InternalError("signing failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, text.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  sig.resize(len);
  return sig;
}

absl::Status VerifySignature(const std::string& certificate_pem, std::string_view text, std::string_view signature) {
  if (signature.empty()) return absl::InvalidArgumentError("no signature");
  if (signature.size() > kMaxSignatureBytes) {
    return absl::InvalidArgumentError(absl::StrCat("signature of ", signature.size(), " bytes (at most ",
                                                   kMaxSignatureBytes, ")"));
  }
  X509Ptr cert = ParseCertificate(certificate_pem);
  if (!cert) return absl::InvalidArgumentError("certificate does not parse");
  KeyPtr key(X509_get_pubkey(cert.get()));
  if (!key) return absl::InvalidArgumentError("certificate holds no public key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(key.get()), nullptr, key.get()) != 1) {
    return absl::InternalError("cannot start verifying a signature");
  }
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                  signature.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  if (ok != 1) return absl::UnauthenticatedError("signature does not verify under the certificate's key");
  return absl::OkStatus();
}

struct CertificateChecker::Store {
  ossl::X509StorePtr store;
};

CertificateChecker::CertificateChecker(std::unique_ptr<Store> store) : store_(std::move(store)) {}
CertificateChecker::~CertificateChecker() = default;

absl::StatusOr<std::unique_ptr<CertificateChecker>> CertificateChecker::FromCaPem(const std::string& ca_pem) {
  auto s = std::make_unique<Store>();
  s->store.reset(X509_STORE_new());
  if (!s->store) return absl::InternalError("X509_STORE_new failed");
  BioPtr bio = MemBio(ca_pem);
  if (!bio) return absl::InternalError("BIO_new_mem_buf failed");
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(s->store.get(), ca) == 1) ++added;
    X509_free(ca);
  }
  if (added == 0) return absl::InvalidArgumentError("the CA file holds no certificate (PEM)");
  return std::unique_ptr<CertificateChecker>(new CertificateChecker(std::move(s)));
}

absl::Status CertificateChecker::CheckSite(const std::string& certificate_pem, const std::string& site_id) const {
  X509Ptr cert = ParseCertificate(certificate_pem);
  if (!cert) return absl::UnauthenticatedError("certificate does not parse");
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_->store.get(), cert.get(), nullptr) != 1) {
    return absl::InternalError("cannot start verifying a certificate");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    return absl::UnauthenticatedError(
        absl::StrCat("certificate does not verify against the CA: ", X509_verify_cert_error_string(error)));
  }
  absl::StatusOr<net::PeerIdentity> id = net::IdentityFromPem(certificate_pem);
  if (!id.ok()) return absl::UnauthenticatedError(id.status().message());
  if (id->role != "site") return absl::UnauthenticatedError("certificate is not a site's (OU is not \"site\")");
  if (id->id != site_id) return absl::UnauthenticatedError("certificate names another site");
  return absl::OkStatus();
}

}  // namespace fedlog::secagg
