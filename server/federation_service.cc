#include "server/federation_service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/net/tls.h"
#include "server/rpc_gate.h"

namespace fedlog::server {
namespace {

// The site id of the caller `id` (its verified certificate, EnterCall): the CN, which must carry the "site" role.
absl::StatusOr<std::string> SiteOf(const net::PeerIdentity& id, Coordinator* coordinator) {
  if (id.role != "site") {
    return absl::PermissionDeniedError(absl::StrCat("certificate role '", id.role, "' may not act as a site"));
  }
  FEDLOG_RETURN_IF_ERROR(coordinator->CheckAllowed(id.id));
  return id.id;
}

// Registers a stream of `party`, cancelled through the call's context. A revocation that ran between the
// caller's identity check and the registration found no stream to cancel: `site` is checked again once its
// stream is registered, so every revocation either sees the stream or is seen by it.
absl::StatusOr<std::unique_ptr<StreamRegistry::Stream>> OpenStream(grpc::ServerContext* ctx, StreamRegistry* streams,
                                                                   Coordinator* coordinator,
                                                                   const std::string& party,
                                                                   const std::string& site, StreamKind kind) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<StreamRegistry::Stream> stream,
                          streams->Open(party, kind, [ctx] { ctx->TryCancel(); }));
  if (!site.empty()) FEDLOG_RETURN_IF_ERROR(coordinator->CheckAllowed(site));
  return stream;
}

// Why a stream stopped: the registry's reason (revoked, idle, deadline) when it ended it, else `fallback`.
absl::Status Ended(StreamRegistry::Stream* stream, absl::Status fallback) {
  absl::Status st = stream->status();
  return st.ok() ? fallback : st;
}

// Reads an upload stream, handing each piece of data to `write` as it arrives (an error from it stops the read),
// hashing it on the way, and refuses streams longer or shorter than the header said, chunks after the last
// byte, and more data chunks than `expected` bytes need at `min_chunk` bytes each (plus two: a short first and
// last), which bounds the per-message work a site can cause with tiny chunks. Stops as soon as the registry ends
// the stream.
absl::Status ReceiveUpload(grpc::ServerReader<v1::UpdateChunk>* reader, StreamRegistry::Stream* stream,
                           const std::string& first_data, int64_t expected, int64_t min_chunk,
                           const std::function<absl::Status(const std::string&)>& write, std::string* sha256) {
  Sha256 digest;
  int64_t got = 0;
  absl::Status st;
  auto append = [&](const std::string& data) {
    const int64_t n = static_cast<int64_t>(data.size());
    if (got + n > expected || (got == expected && expected > 0)) {
      st = absl::InvalidArgumentError("update stream is longer than its header says");
      return false;
    }
    st = write(data);
    if (!st.ok()) return false;
    digest.Update(data);
    got += n;
    return true;
  };
  bool ok = first_data.empty() || append(first_data);
  const int64_t max_chunks = expected / std::max<int64_t>(1, min_chunk) + 2;
  int64_t chunks = 0;
  v1::UpdateChunk chunk;
  while (ok && reader->Read(&chunk)) {
    if (absl::Status s = stream->status(); !s.ok()) {
      st = s;
      break;
    }
    stream->Touch();
    if (chunk.has_header()) {
      st = absl::InvalidArgumentError("header repeated inside the stream");
      break;
    }
    if (++chunks > max_chunks) {
      st = absl::InvalidArgumentError(absl::StrCat("update chunks are below the minimum of ", min_chunk,
                                                   " bytes: more than ", max_chunks, " chunks for ", expected,
                                                   " bytes"));
      break;
    }
    ok = append(chunk.data());
  }
  if (st.ok() && got != expected) {
    st = Ended(stream, absl::AbortedError(absl::StrCat("update stream ended after ", got, " of ", expected, " bytes")));
  }
  if (!st.ok()) return st;
  *sha256 = digest.FinalHex();
  return absl::OkStatus();
}

// Spools an upload to `path` (ReceiveUpload); the file is removed on failure.
absl::Status SpoolUpload(grpc::ServerReader<v1::UpdateChunk>* reader, StreamRegistry::Stream* stream,
                         const std::string& first_data, int64_t expected, int64_t min_chunk,
                         const std::string& path, std::string* sha256) {
  FILE* f = CreatePrivateFile(path, /*exclusive=*/true);  // an update is for the aggregator's user only
  if (f == nullptr) return absl::InternalError("cannot create a spool file");
  absl::Status st = ReceiveUpload(
      reader, stream, first_data, expected, min_chunk,
      [f](const std::string& data) {
        return std::fwrite(data.data(), 1, data.size(), f) == data.size()
                   ? absl::OkStatus()
                   : absl::InternalError("cannot write a spool file");
      },
      sha256);
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
    if (st.ok()) st = absl::InternalError("cannot flush a spool file");
  }
  std::fclose(f);
  if (!st.ok()) std::remove(path.c_str());
  return st;
}

// A masked input (secure aggregation) is received into memory only: it is added into the round's sum and
// dropped, never written to disk.
absl::Status ReceiveMaskedUpload(grpc::ServerReader<v1::UpdateChunk>* reader, StreamRegistry::Stream* stream,
                                 const std::string& first_data, int64_t expected, int64_t min_chunk,
                                 std::string* bytes, std::string* sha256) {
  bytes->reserve(static_cast<size_t>(expected));
  return ReceiveUpload(
      reader, stream, first_data, expected, min_chunk,
      [bytes](const std::string& data) {
        bytes->append(data);
        return absl::OkStatus();
      },
      sha256);
}

}  // namespace

grpc::Status FederationService::Hello(grpc::ServerContext* ctx, const v1::HelloRequest* req,
                                      v1::HelloResponse* resp) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  absl::StatusOr<v1::HelloResponse> r = coordinator_->Hello(*site, *req);
  if (!r.ok()) return net::ToGrpc(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status FederationService::GetTask(grpc::ServerContext* ctx, const v1::TaskRequest* req,
                                        v1::TaskResponse* resp) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  // A long poll holds a server thread: a site gets a few at once, not the thread pool.
  auto stream = OpenStream(ctx, streams_, coordinator_, SiteParty(*site), *site, StreamKind::kPoll);
  if (!stream.ok()) return net::ToGrpc(stream.status());
  absl::StatusOr<v1::TaskResponse> r =
      coordinator_->WaitForTask(*site, req->wait_ms(), [ctx] { return ctx->IsCancelled(); });
  if (!r.ok()) return net::ToGrpc(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status FederationService::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest*,
                                          v1::HeartbeatResponse* resp) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  coordinator_->Touch(*site);
  resp->set_server_time_ms(absl::ToUnixMillis(absl::Now()));
  return grpc::Status::OK;
}

bool FederationService::AcquireDownloadSlot(grpc::ServerContext* ctx, StreamRegistry::Stream* stream) {
  absl::MutexLock lock(&download_mu_);
  auto free_slot = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(download_mu_) {
    return downloads_ < options_.max_downloads;
  };
  while (!download_mu_.AwaitWithTimeout(absl::Condition(&free_slot), absl::Milliseconds(200))) {
    if (ctx->IsCancelled() || !stream->status().ok()) return false;
    stream->Touch();  // waiting for a slot is not the peer's idleness; the stream's deadline still bounds it
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
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  const net::PeerIdentity* id = &call->peer;
  std::string site;  // empty for an admin
  std::string party = absl::StrCat("admin:", id->id);
  if (id->role != "admin") {
    absl::StatusOr<std::string> s = SiteOf(call->peer, coordinator_);
    if (!s.ok()) return net::ToGrpc(s.status());
    site = *s;
    party = SiteParty(site);
  }
  auto stream = OpenStream(ctx, streams_, coordinator_, party, site, StreamKind::kDownload);
  if (!stream.ok()) return net::ToGrpc(stream.status());
  return SendBlob(ctx, *req, site, stream->get(), writer);
}

grpc::Status FederationService::SendBlob(grpc::ServerContext* ctx, const v1::DownloadRequest& req,
                                         const std::string& site, StreamRegistry::Stream* stream,
                                         grpc::ServerWriter<v1::ModelChunk>* writer) {
  auto model = coordinator_->ModelForDownload(site, req.version(), req.all_adapters());
  if (!model.ok()) return net::ToGrpc(model.status());
  // A site is present through calls the aggregator accepted, not refused ones (docs/rules/s26-securestate.md).
  if (!site.empty()) coordinator_->Touch(site);
  absl::StatusOr<std::shared_ptr<std::FILE>> f = blobs_->Open(model->second);
  if (absl::IsNotFound(f.status())) {
    // A download variant evicted between the two calls: asking again makes it anew.
    model = coordinator_->ModelForDownload(site, req.version(), req.all_adapters());
    if (!model.ok()) return net::ToGrpc(model.status());
    f = blobs_->Open(model->second);
  }
  if (!f.ok()) return net::ToGrpc(f.status());
  const StoredBlob& blob = model->second;
  if (absl::Status st = blobs_->VerifyOnce(blob); !st.ok()) return net::ToGrpc(st);
  const size_t chunk = static_cast<size_t>(std::clamp(req.chunk_bytes() > 0 ? req.chunk_bytes() : options_.chunk_bytes,
                                                      options_.min_chunk_bytes, options_.chunk_bytes));
  if (!AcquireDownloadSlot(ctx, stream)) {
    return net::ToGrpc(Ended(stream, absl::CancelledError("client went away")));
  }
  struct Slot {
    FederationService* s;
    ~Slot() { s->ReleaseDownloadSlot(); }
  } slot{this};
  v1::ModelChunk first;
  *first.mutable_manifest() = model->first;
  // Each chunk goes out only while the stream is still allowed (revocation, timeouts).
  auto send = [&](const v1::ModelChunk& c) -> absl::Status {
    FEDLOG_RETURN_IF_ERROR(stream->status());
    if (!writer->Write(c)) return Ended(stream, absl::CancelledError("client went away"));
    stream->Touch();
    return absl::OkStatus();
  };
  if (absl::Status st = send(first); !st.ok()) return net::ToGrpc(st);
  int64_t sent = 0;
  v1::ModelChunk c;
  std::string* data = c.mutable_data();
  while (true) {
    data->resize(chunk);
    const size_t n = std::fread(data->data(), 1, chunk, f->get());
    if (n == 0) break;
    data->resize(n);
    if (absl::Status st = send(c); !st.ok()) {
      coordinator_->CountDownload(sent);
      return net::ToGrpc(st);
    }
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
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  // Registered before anything is read: a second upload of the same site is refused here, before it can
  // touch the spool, and a site that opens a stream and sends nothing is ended by the idle timeout.
  auto registered = OpenStream(ctx, streams_, coordinator_, SiteParty(*site), *site, StreamKind::kUpload);
  if (!registered.ok()) return net::ToGrpc(registered.status());
  StreamRegistry::Stream* stream = registered->get();
  v1::UpdateChunk first;
  if (!reader->Read(&first) || !first.has_header()) {
    return net::ToGrpc(
        Ended(stream, absl::InvalidArgumentError("the first chunk must carry the update header")));
  }
  stream->Touch();
  const v1::UpdateHeader& header = first.header();
  absl::StatusOr<UploadTicket> ticket = coordinator_->BeginUpload(*site, header);
  if (!ticket.ok()) return net::ToGrpc(ticket.status());
  // An upload never outlives its round.
  stream->LimitDeadline(absl::FromUnixMillis(ticket->round.deadline_ms));
  if (header.secagg_masked()) return FinishMasked(*site, stream, reader, first, *ticket, resp);
  absl::Status st = stream->ReserveSpool(header.size_bytes());
  absl::StatusOr<std::string> spool = blobs_->IncomingPath();
  if (st.ok() && !spool.ok()) st = spool.status();
  std::string sha256;
  if (st.ok()) {
    st = SpoolUpload(reader, stream, first.data(), header.size_bytes(), options_.min_chunk_bytes, *spool, &sha256);
  }
  // Revoked or timed out while the last bytes arrived: nothing of it is kept.
  if (st.ok()) st = stream->status();
  if (!st.ok()) {
    if (spool.ok()) std::remove(spool->c_str());
    registered->reset();  // the site may upload again as soon as the refusal is visible
    coordinator_->CountRefusal(*site, header, std::string(st.message()));
    return net::ToGrpc(st);
  }
  if (absl::Status fin = coordinator_->FinishUpload(*site, *ticket, *spool, sha256); !fin.ok()) {
    return net::ToGrpc(fin);
  }
  resp->set_accepted(true);
  return grpc::Status::OK;
}

grpc::Status FederationService::FinishMasked(const std::string& site, StreamRegistry::Stream* stream,
                                             grpc::ServerReader<v1::UpdateChunk>* reader,
                                             const v1::UpdateChunk& first, const UploadTicket& ticket,
                                             v1::UploadResponse* resp) {
  const v1::UpdateHeader& header = first.header();
  absl::Status st = stream->ReserveSpool(header.size_bytes());  // bounds the memory of concurrent uploads too
  std::string bytes, sha256;
  if (st.ok()) {
    st = ReceiveMaskedUpload(reader, stream, first.data(), header.size_bytes(), options_.min_chunk_bytes, &bytes,
                             &sha256);
  }
  if (st.ok()) st = stream->status();
  if (!st.ok()) {
    coordinator_->CountRefusal(site, header, std::string(st.message()));
    return net::ToGrpc(st);
  }
  if (absl::Status fin = coordinator_->FinishMaskedUpload(site, ticket, bytes, sha256); !fin.ok()) {
    return net::ToGrpc(fin);
  }
  resp->set_accepted(true);
  return grpc::Status::OK;
}

grpc::Status FederationService::SecAggAdvertise(grpc::ServerContext* ctx, const v1::SecAggAdvertiseRequest* req,
                                                v1::SecAggAck*) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  return net::ToGrpc(coordinator_->SecAggAdvertise(*site, call->peer.pem, *req));
}

grpc::Status FederationService::SecAggShareKeys(grpc::ServerContext* ctx, const v1::SecAggShareKeysRequest* req,
                                                v1::SecAggAck*) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  return net::ToGrpc(coordinator_->SecAggShareKeys(*site, *req));
}

grpc::Status FederationService::SecAggUnmask(grpc::ServerContext* ctx, const v1::SecAggUnmaskRequest* req,
                                             v1::SecAggAck*) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  return net::ToGrpc(coordinator_->SecAggUnmask(*site, *req));
}

grpc::Status FederationService::SecAggPoll(grpc::ServerContext* ctx, const v1::SecAggPollRequest* req,
                                           v1::SecAggPollResponse* resp) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  auto stream = OpenStream(ctx, streams_, coordinator_, SiteParty(*site), *site, StreamKind::kPoll);
  if (!stream.ok()) return net::ToGrpc(stream.status());
  absl::StatusOr<v1::SecAggPollResponse> r =
      coordinator_->SecAggPoll(*site, *req, [ctx] { return ctx->IsCancelled(); });
  if (!r.ok()) return net::ToGrpc(r.status());
  *resp = *r;
  return grpc::Status::OK;
}

grpc::Status FederationService::ReportEvaluation(grpc::ServerContext* ctx, const v1::EvaluationReport* req,
                                                 v1::EvaluationAck*) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  absl::Status st = coordinator_->RecordEvaluation(*site, *req);
  if (st.ok()) coordinator_->Touch(*site);
  return net::ToGrpc(st);
}

grpc::Status FederationService::DeclineRound(grpc::ServerContext* ctx, const v1::DeclineRequest* req,
                                             v1::DeclineResponse*) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return net::ToGrpc(call.status());
  absl::StatusOr<std::string> site = SiteOf(call->peer, coordinator_);
  if (!site.ok()) return net::ToGrpc(site.status());
  return net::ToGrpc(coordinator_->DeclineRound(*site, *req));
}

}  // namespace fedlog::server
