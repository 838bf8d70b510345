#include "common/net/tls.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/net/peer_id.h"

namespace fedlog::net {
namespace {

struct TlsPems {
  std::string ca, cert, key;
};

absl::StatusOr<TlsPems> ReadPems(const TlsFiles& files) {
  if (files.ca_cert.empty() || files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("tls needs ca_cert, cert and key");
  }
  TlsPems p;
  FEDLOG_ASSIGN_OR_RETURN(p.ca, ReadFile(files.ca_cert));
  FEDLOG_ASSIGN_OR_RETURN(p.cert, ReadFile(files.cert));
  FEDLOG_ASSIGN_OR_RETURN(p.key, ReadFile(files.key));
  return p;
}

// Runs after gRPC has verified the client's chain against the CA: the certificate's identity is put to the
// admission. A certificate whose identity does not parse (two CNs, an unsafe id) passes here and is refused on
// every call instead (PeerIdentityOf), where the peer is told why. Synchronous (the admission is a lookup).
class AdmissionVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit AdmissionVerifier(PeerAdmission admit) : admit_(std::move(admit)) {}
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    absl::StatusOr<PeerIdentity> id = IdentityFromPem(std::string(pem.data(), pem.size()));
    const absl::Status st = id.ok() ? admit_(*id) : absl::OkStatus();
    *sync_status = st.ok() ? grpc::Status::OK
                           : grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(st.message()));
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  PeerAdmission admit_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files,
                                                                                PeerAdmission admit) {
  FEDLOG_ASSIGN_OR_RETURN(TlsPems p, ReadPems(files));
  if (!admit) {
    grpc::SslServerCredentialsOptions opts(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    opts.pem_root_certs = p.ca;
    opts.pem_key_cert_pairs.push_back({p.key, p.cert});
    return grpc::SslServerCredentials(opts);
  }
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      p.ca, std::vector<grpc::experimental::IdentityKeyCertPair>{{p.key, p.cert}});
  grpc::experimental::TlsServerCredentialsOptions opts(provider);
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<AdmissionVerifier>(std::move(admit)));
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::experimental::TlsServerCredentials(opts);
  if (creds == nullptr) return absl::InternalError("cannot build the server's TLS credentials");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files) {
  FEDLOG_ASSIGN_OR_RETURN(TlsPems p, ReadPems(files));
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = p.ca;
  opts.pem_private_key = p.key;
  opts.pem_cert_chain = p.cert;
  return grpc::SslCredentials(opts);
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetMaxReceiveMessageSize(16 << 20);
  return grpc::CreateCustomChannel(address, creds, args);
}

absl::StatusOr<PeerIdentity> PeerIdentityOf(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("no verified client certificate");
  }
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) return absl::UnauthenticatedError("no client certificate on the connection");
  return IdentityFromPem(std::string(pems.front().data(), pems.front().size()));
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace fedlog::net
