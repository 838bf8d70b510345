// common/secagg/peer_auth.h: signatures with a site's certificate key, certificates checked against the CA and
// the site's identity, and signing texts that cannot be read as one another. Keys and certificates are made
// here, in memory.
#include "common/secagg/peer_auth.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

struct Party {
  std::string key_pem, cert_pem;
};

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// A key (P-256, or Ed25519) and a certificate for CN `cn`, OU `ou`, signed by `issuer` (self-signed when null).
Party Make(const std::string& cn, const std::string& ou, const Party* issuer, bool ed25519 = false) {
  EVP_PKEY* key = ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519") : EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(ou.c_str()), -1, -1, 0);
  if (ou == "ca") {  // a CA certificate: OpenSSL's chain check requires the constraint
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  EVP_PKEY* signer = key;
  if (issuer != nullptr) {
    BIO* kb = BIO_new_mem_buf(issuer->key_pem.data(), static_cast<int>(issuer->key_pem.size()));
    signer = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    BIO* cb = BIO_new_mem_buf(issuer->cert_pem.data(), static_cast<int>(issuer->cert_pem.size()));
    X509* ic = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    X509_set_issuer_name(cert, X509_get_subject_name(ic));
    X509_free(ic);
  } else {
    X509_set_issuer_name(cert, name);
  }
  const bool ed = EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519;
  X509_sign(cert, signer, ed ? nullptr : EVP_sha256());
  Party p{KeyPem(key), CertPem(cert)};
  if (signer != key) EVP_PKEY_free(signer);
  EVP_PKEY_free(key);
  X509_free(cert);
  return p;
}

PublicKey Key(uint8_t fill) {
  PublicKey k;
  k.fill(fill);
  return k;
}

TEST(PeerAuthTest, SignaturesVerifyUnderTheirCertificateOnly) {
  for (bool ed25519 : {false, true}) {
    SCOPED_TRACE(ed25519 ? "Ed25519" : "P-256");
    const Party a = Make("site-a", "site", nullptr, ed25519), b = Make("site-b", "site", nullptr, ed25519);
    absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::FromPem(a.key_pem);
    ASSERT_TRUE(signer.ok()) << signer.status();
    const std::string text = KeysSigningText("session-1", Key(1), Key(2));
    absl::StatusOr<std::string> sig = (*signer)->Sign(text);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE(VerifySignature(a.cert_pem, text, *sig).ok());
    // Another key's certificate, another text, a changed signature: refused.
    EXPECT_EQ(VerifySignature(b.cert_pem, text, *sig).code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(VerifySignature(a.cert_pem, KeysSigningText("session-2", Key(1), Key(2)), *sig).code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(VerifySignature(a.cert_pem, KeysSigningText("session-1", Key(1), Key(3)), *sig).code(),
              absl::StatusCode::kUnauthenticated);
    std::string bent = *sig;
    bent[bent.size() / 2] ^= 0x01;
    EXPECT_EQ(VerifySignature(a.cert_pem, text, bent).code(), absl::StatusCode::kUnauthenticated);
  }
}

TEST(PeerAuthTest, MalformedInputsAreRefusedWithAReason) {
  const Party a = Make("site-a", "site", nullptr);
  EXPECT_EQ(VerifySignature(a.cert_pem, "t", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifySignature(a.cert_pem, "t", std::string(kMaxSignatureBytes + 1, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifySignature("not a certificate", "t", "sig").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Signer::FromPem(a.cert_pem).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateChecker::FromCaPem("no pem here").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PeerAuthTest, CertificatesMustChainToTheCaAndNameTheSite) {
  const Party ca = Make("fedlog test CA", "ca", nullptr);
  const Party other_ca = Make("fedlog test CA", "ca", nullptr);  // same name, another key
  absl::StatusOr<std::unique_ptr<CertificateChecker>> checker = CertificateChecker::FromCaPem(ca.cert_pem);
  ASSERT_TRUE(checker.ok()) << checker.status();
  const Party a = Make("site-a", "site", &ca);
  EXPECT_TRUE((*checker)->CheckSite(a.cert_pem, "site-a").ok());
  absl::Status st = (*checker)->CheckSite(a.cert_pem, "site-b");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(st.message().find("names another site"), std::string::npos) << st;
  st = (*checker)->CheckSite(Make("site-a", "aggregator", &ca).cert_pem, "site-a");
  EXPECT_NE(st.message().find("not a site's"), std::string::npos) << st;
  st = (*checker)->CheckSite(Make("site-a", "site", &other_ca).cert_pem, "site-a");
  EXPECT_NE(st.message().find("does not verify against the CA"), std::string::npos) << st;
  st = (*checker)->CheckSite(Make("site-a", "site", nullptr).cert_pem, "site-a");  // self-signed
  EXPECT_NE(st.message().find("does not verify against the CA"), std::string::npos) << st;
  EXPECT_EQ((*checker)->CheckSite("", "site-a").code(), absl::StatusCode::kUnauthenticated);
}

TEST(PeerAuthTest, SigningTextsOfOneKindNeverReadAsAnother) {
  // Survivors and dropped sites are length-prefixed: moving a site from one list to the other changes the text.
  EXPECT_NE(SurvivorsSigningText("s", {1, 2}, {3}), SurvivorsSigningText("s", {1}, {2, 3}));
  EXPECT_NE(SurvivorsSigningText("s", {1, 2, 3}, {}), SurvivorsSigningText("s", {1, 2}, {3}));
  EXPECT_NE(SurvivorsSigningText("s1", {1}, {}), SurvivorsSigningText("s", {1}, {}));
  // The two kinds carry different labels.
  EXPECT_NE(KeysSigningText("s", Key(1), Key(2)).substr(0, 20), SurvivorsSigningText("s", {1}, {}).substr(0, 20));
}

}  // namespace
}  // namespace fedlog::secagg
