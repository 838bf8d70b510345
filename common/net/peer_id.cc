#include "common/net/peer_id.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"

namespace fedlog::net {
namespace {

// The single entry `nid` of a subject name: "" when absent, Unauthenticated when there are several (which one
// wins would differ between tools, so a certificate with two CNs or two OUs names nobody).
absl::StatusOr<std::string> NameEntry(X509_NAME* name, int nid, const char* what) {
  const int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return std::string();
  if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
    return absl::UnauthenticatedError(absl::StrCat("peer certificate has more than one ", what));
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return absl::UnauthenticatedError(absl::StrCat("peer certificate's ", what, " does not decode"));
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace


bool IsValidPeerId(const std::string& id) {
  if (id.empty() || id.size() > kMaxPeerIdLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  for (char c : id) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return id.find("..") == std::string::npos;
}


absl::StatusOr<PeerIdentity> IdentityFromPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf failed");
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return absl::InvalidArgumentError("peer certificate does not parse");
  X509_NAME* subject = X509_get_subject_name(cert);
  absl::StatusOr<std::string> cn = NameEntry(subject, NID_commonName, "common name (CN)");
  absl::StatusOr<std::string> ou = NameEntry(subject, NID_organizationalUnitName, "organizational unit (OU)");
  X509_free(cert);
  if (!cn.ok()) return cn.status();
  if (!ou.ok()) return ou.status();
  if (cn->empty()) return absl::UnauthenticatedError("peer certificate has no common name");
  if (!IsValidPeerId(*cn)) {
    // Not echoed: the name may hold anything, terminal escapes included.
    return absl::UnauthenticatedError(
        "peer certificate's common name is not a valid id ([A-Za-z0-9][A-Za-z0-9._-]{0,63}, no '..')");
  }
  return PeerIdentity{*std::move(cn), *std::move(ou), pem};
}

}  // namespace fedlog::net
