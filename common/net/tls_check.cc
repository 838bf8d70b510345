#include "common/net/tls_check.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/openssl_ptr.h"

namespace fedlog::net {
namespace {

using ossl::X509Ptr;

ossl::BioPtr Bio(const std::string& pem) { return ossl::MemBio(pem); }

absl::StatusOr<std::string> Read(const std::string& path, const std::string& setting) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(setting, " is not set"));
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(), absl::StrCat(setting, ": ", pem.status().message()));
  }
  return pem;
}

absl::StatusOr<X509Ptr> ParseCert(const std::string& pem, const std::string& path, const std::string& setting) {
  auto bio = Bio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) return absl::InvalidArgumentError(absl::StrCat(setting, " ", path, " is not a PEM certificate"));
  return cert;
}

std::string Subject(X509* cert) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  std::string s = buf;
  if (!s.empty() && s[0] == '/') s = s.substr(1);
  return s;
}


int CountCerts(const std::string& pem) {
  auto bio = Bio(pem);
  int n = 0;
  while (X509Ptr c{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) ++n;
  ERR_clear_error();
  return n;
}

// Whether `cert` carries a valid signature of one of the certificates in `ca_pem` (a bundle may hold several).
bool SignedByOneOf(X509* cert, const std::string& ca_pem) {
  auto bio = Bio(ca_pem);
  bool ok = false;
  while (!ok) {
    X509Ptr ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!ca) break;
    ossl::PkeyPtr ca_key(X509_get_pubkey(ca.get()));
    ok = ca_key != nullptr && X509_verify(cert, ca_key.get()) == 1;
  }
  ERR_clear_error();
  return ok;
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files, const std::string& prefix) {
  const std::string ca_setting = prefix + (prefix == "--" ? "ca" : "ca_cert");
  absl::StatusOr<std::string> ca_pem = Read(files.ca_cert, ca_setting);
  if (!ca_pem.ok()) return ca_pem.status();
  absl::StatusOr<std::string> cert_pem = Read(files.cert, prefix + "cert");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = Read(files.key, prefix + "key");
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<X509Ptr> ca = ParseCert(*ca_pem, files.ca_cert, ca_setting);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<X509Ptr> cert = ParseCert(*cert_pem, files.cert, prefix + "cert");
  if (!cert.ok()) return cert.status();
  auto key_bio = Bio(*key_pem);
  ossl::PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "key ", files.key, " is not an unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(prefix, "key ", files.key, " does not belong to the certificate ",
                                                   files.cert, " (", Subject(cert->get()), ")"));
  }
  if (!SignedByOneOf(cert->get(), *ca_pem) && CountCerts(*cert_pem) == 1) {
    // A chain in the cert file (intermediates) is left to the handshake.
    FEDLOG_LOG(WARNING) << prefix << "cert " << files.cert << " (" << Subject(cert->get())
                        << ") is not signed by the CA in " << files.ca_cert << " (" << Subject(ca->get())
                        << "); the peer must trust the CA that signed it, or every handshake fails";
  }
  return absl::OkStatus();
}

std::string CertificateSubject(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return "";
  absl::StatusOr<X509Ptr> cert = ParseCert(*pem, path, "");
  return cert.ok() ? Subject(cert->get()) : "";
}

std::string CertificateIssuer(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return "";
  absl::StatusOr<X509Ptr> cert = ParseCert(*pem, path, "");
  if (!cert.ok()) return "";
  char buf[512];
  X509_NAME_oneline(X509_get_issuer_name(cert->get()), buf, sizeof(buf));
  std::string s = buf;
  if (!s.empty() && s[0] == '/') s = s.substr(1);
  return s;
}

bool LooksLikeTlsFailure(const std::string& grpc_message) {
  const std::string m = absl::AsciiStrToLower(grpc_message);
  for (const char* needle : {"handshake", "ssl", "certificate", "tls"}) {
    if (absl::StrContains(m, needle)) return true;
  }
  return false;
}

}  // namespace fedlog::net
