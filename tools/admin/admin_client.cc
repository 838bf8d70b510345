#include "tools/admin/admin_client.h"

#include <cstdlib>

#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/net/address.h"
#include "common/net/tls.h"
#include "common/net/tls_check.h"

namespace fedlog::cli {
namespace {

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace

ArgSpec WithConnectionOptions(ArgSpec spec) {
  for (const char* o : {"server", "pki", "ca", "cert", "key"}) spec.options.insert(o);
  return spec;
}

absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> ConnectAdmin(const Args& args) {
  std::string server = args.Get("server", Env("FEDLOG_SERVER", "localhost:7443"));
  std::string pki = args.Get("pki", Env("FEDLOG_PKI", ""));
  net::TlsFiles files;
  files.ca_cert = args.Get("ca", pki.empty() ? "" : JoinPath(pki, "ca.crt"));
  files.cert = args.Get("cert", pki.empty() ? "" : JoinPath(pki, "admin.crt"));
  files.key = args.Get("key", pki.empty() ? "" : JoinPath(pki, "admin.key"));
  if (files.ca_cert.empty() || files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError(
        "admin certificate not given: use --pki DIR (or FEDLOG_PKI) or --ca, --cert and --key");
  }
  FEDLOG_RETURN_IF_ERROR(net::ParseHostPort(server, "--server").status());
  // One sentence for a wrong file, instead of gRPC's handshake dump and "empty address list" later.
  FEDLOG_RETURN_IF_ERROR(net::CheckTlsFiles(files, args.Has("pki") || !pki.empty() ? "admin " : "--"));
  FEDLOG_ASSIGN_OR_RETURN(auto creds, net::MakeChannelCredentials(files));
  return v1::Admin::NewStub(net::MakeChannel(server, creds));
}

}  // namespace fedlog::cli
