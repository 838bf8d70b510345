#include "server/federation_service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/net/tls.h"

namespace fedlog::server {
namespace {

// The site id of the caller: the CN of its verified certificate, which must carry the "site" role.
absl::StatusOr<std::string> SiteOf(const grpc::ServerContext& ctx, Coordinator* coordinator) {
  FEDLOG_ASSIGN_OR_RETURN(net::PeerIdentity id, net::PeerIdentityOf(ctx));
  if (id.role != "site") {
    return absl::PermissionDeniedError(absl::StrCat("certificate role '", id.role, "' may not act as a site"));
  }
  FEDLOG_RETURN_IF_ERROR(coordinator->CheckAllowed(id.id));
  return id.id;
}

// Spools an upload stream to `path` as it arrives (memory stays at one chunk), hashing it on the way, and
// refuses streams longer or shorter than the header said.
absl::Status SpoolUpload(grpc::ServerReader<v1::UpdateChunk>* reader, const std::string& first_data,
                         int64_t expected, const std::string& path, std::string* sha256) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  Sha256 digest;
  int64_t got = 0;
  absl::Status st;
  auto append = [&](const std::string& data) {
    if (got + static_cast<int64_t>(data.size()) > expected) {
      st = absl::InvalidArgumentError("update stream is longer than its header says");
      return false;
    }
    if (std::fwrite(data.data(), 1, data.size(), f) != data.size()) {
      st = absl::InternalError(absl::StrCat("cannot write ", path));
      return false;
    }
    digest.Update(data);
    got += static_cast<int64_t>(data.size());
    return true;
  };
  bool ok = append(first_data);
  v1::UpdateChunk chunk;
  while (ok && reader->Read(&chunk)) {
    if (chunk.has_header()) {
      st = absl::InvalidArgumentError("header repeated inside the stream");
      break;
    }
    ok = append(chunk.data());
  }
  if (st.ok() && got != expected) {
    st = absl::AbortedError(absl::StrCat("update stream ended after ", got, " of ", expected, " bytes"));
  }
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
    if (st.ok()) st = absl::InternalError(absl::StrCat("cannot flush ", path));
  }
  std::fclose(f);
  if (!st.ok()) {
    std::remove(path.c_str());
    return st;
  }
  *sha256 = digest.FinalHex();
  return absl::OkStatus();
}

}  // namespace

grpc::Status FederationService::Hello(grpc::ServerContext* ctx, const v1::HelloRequest* req,
                                      v1::HelloResponse* resp) {
  absl::StatusOr<std::string> site = SiteOf(*ctx, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  absl::StatusOr<v1::HelloResponse> r = coordinator_->Hello(*site, *req);
  if (!r.ok()) return net::ToGrpc(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status FederationService::GetTask(grpc::ServerContext* ctx, const v1::TaskRequest* req,
                                        v1::TaskResponse* resp) {
  absl::StatusOr<std::string> site = SiteOf(*ctx, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  absl::StatusOr<v1::TaskResponse> r =
      coordinator_->WaitForTask(*site, req->wait_ms(), [ctx] { return ctx->IsCancelled(); });
  if (!r.ok()) return net::ToGrpc(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status FederationService::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest*,
                                          v1::HeartbeatResponse* resp) {
  absl::StatusOr<std::string> site = SiteOf(*ctx, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  coordinator_->Touch(*site);
  resp->set_server_time_ms(absl::ToUnixMillis(absl::Now()));
  return grpc::Status::OK;
}

bool FederationService::AcquireDownloadSlot(grpc::ServerContext* ctx) {
  absl::MutexLock lock(&download_mu_);
  auto free_slot = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(download_mu_) { return downloads_ < max_downloads_; };
  while (!download_mu_.AwaitWithTimeout(absl::Condition(&free_slot), absl::Milliseconds(200))) {
    if (ctx->IsCancelled()) return false;
  }
  ++downloads_;
  return true;
}

void FederationService::ReleaseDownloadSlot() {
  absl::MutexLock lock(&download_mu_);
  --downloads_;
}

grpc::Status FederationService::DownloadModel(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                                              grpc::ServerWriter<v1::ModelChunk>* writer) {
  absl::StatusOr<net::PeerIdentity> id = net::PeerIdentityOf(*ctx);
  if (!id.ok()) return net::ToGrpc(id.status());
  std::string site;  // empty for an admin
  if (id->role != "admin") {
    absl::StatusOr<std::string> s = SiteOf(*ctx, coordinator_);
    if (!s.ok()) return net::ToGrpc(s.status());
    site = *s;
    coordinator_->Touch(site);
  }
  auto model = coordinator_->ModelForDownload(site, req->version(), req->all_adapters());
  if (!model.ok()) return net::ToGrpc(model.status());
  const StoredBlob& blob = model->second;
  if (absl::Status st = blobs_->VerifyOnce(blob); !st.ok()) return net::ToGrpc(st);
  const size_t chunk = static_cast<size_t>(
      req->chunk_bytes() > 0 ? std::min(req->chunk_bytes(), chunk_bytes_) : chunk_bytes_);
  if (!AcquireDownloadSlot(ctx)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  struct Slot {
    FederationService* s;
    ~Slot() { s->ReleaseDownloadSlot(); }
  } slot{this};
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(blob.path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "model blob is missing");
  v1::ModelChunk first;
  *first.mutable_manifest() = model->first;
  if (!writer->Write(first)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  int64_t sent = 0;
  v1::ModelChunk c;
  std::string* data = c.mutable_data();
  while (true) {
    data->resize(chunk);
    const size_t n = std::fread(data->data(), 1, chunk, f.get());
    if (n == 0) break;
    data->resize(n);
    if (!writer->Write(c)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    sent += static_cast<int64_t>(n);
  }
  coordinator_->CountDownload(sent);
  if (sent != blob.size_bytes) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS, absl::StrCat("model blob changed size: sent ", sent, " of ",
                                                                  blob.size_bytes, " bytes"));
  }
  return grpc::Status::OK;
}

grpc::Status FederationService::UploadUpdate(grpc::ServerContext* ctx, grpc::ServerReader<v1::UpdateChunk>* reader,
                                             v1::UploadResponse* resp) {
  absl::StatusOr<std::string> site = SiteOf(*ctx, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  v1::UpdateChunk first;
  if (!reader->Read(&first) || !first.has_header()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first chunk must carry the update header");
  }
  absl::StatusOr<UploadTicket> ticket = coordinator_->BeginUpload(*site, first.header());
  if (!ticket.ok()) return net::ToGrpc(ticket.status());
  const std::string spool = blobs_->IncomingPath(*site);
  std::string sha256;
  if (absl::Status st = SpoolUpload(reader, first.data(), first.header().size_bytes(), spool, &sha256); !st.ok()) {
    coordinator_->CountRefusal(*site, first.header(), std::string(st.message()));
    return net::ToGrpc(st);
  }
  if (absl::Status st = coordinator_->FinishUpload(*site, *ticket, spool, sha256); !st.ok()) return net::ToGrpc(st);
  resp->set_accepted(true);
  return grpc::Status::OK;
}

grpc::Status FederationService::ReportEvaluation(grpc::ServerContext* ctx, const v1::EvaluationReport* req,
                                                 v1::EvaluationAck*) {
  absl::StatusOr<std::string> site = SiteOf(*ctx, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  coordinator_->Touch(*site);
  return net::ToGrpc(coordinator_->RecordEvaluation(*site, *req));
}

}  // namespace fedlog::server
