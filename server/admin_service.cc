#include "server/admin_service.h"

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/net/tls.h"
#include "server/rpc_gate.h"

namespace fedlog::server {
namespace {

absl::Status RequireAdmin(const net::PeerIdentity& id) {
  if (id.role != "admin") return absl::PermissionDeniedError(absl::StrCat("'", id.id, "' lacks the admin role"));
  return absl::OkStatus();
}

// A refusal may quote what the admin sent (a site id, a path, a strategy name). gRPC carries the message in
// the response's metadata, whose size is limited (8 KiB by default): a longer one failed the call with
// RESOURCE_EXHAUSTED and then the connection's next calls too. So the message is cut to kMaxStatusMessage bytes.
constexpr size_t kMaxStatusMessage = 1024;

grpc::Status Reply(const absl::Status& st) {
  if (st.message().size() <= kMaxStatusMessage) return net::ToGrpc(st);
  return net::ToGrpc(absl::Status(st.code(), absl::StrCat(st.message().substr(0, kMaxStatusMessage), "... (",
                                                          st.message().size() - kMaxStatusMessage,
                                                          " more bytes)")));
}

// Runs `fn` (returning StatusOr<T>) for an authenticated admin within its cap of calls and copies the value
// into `out`.
template <typename T, typename Fn>
grpc::Status Serve(CallGate* calls, const grpc::ServerContext& ctx, T* out, Fn fn) {
  absl::StatusOr<GatedCall> call = EnterCall(calls, ctx);
  if (!call.ok()) return Reply(call.status());
  if (absl::Status st = RequireAdmin(call->peer); !st.ok()) return Reply(st);
  absl::StatusOr<T> r = fn();
  if (!r.ok()) return Reply(r.status());
  *out = std::move(*r);
  return grpc::Status::OK;
}

bool Finished(const v1::RunStatus& s) { return s.state() == "done" || s.state() == "stopped" || s.state() == "failed"; }

}  // namespace

grpc::Status AdminService::ListSites(grpc::ServerContext* ctx, const v1::ListSitesRequest*,
                                     v1::ListSitesResponse* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->ListSites(); });
}

grpc::Status AdminService::StartRun(grpc::ServerContext* ctx, const v1::StartRunRequest* req, v1::RunStatus* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->StartRun(req->plan()); });
}

grpc::Status AdminService::StopRun(grpc::ServerContext* ctx, const v1::StopRunRequest* req, v1::RunStatus* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->StopRun(req->run_id()); });
}

grpc::Status AdminService::GetRun(grpc::ServerContext* ctx, const v1::GetRunRequest* req, v1::RunStatus* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->RunStatus(req->run_id()); });
}

grpc::Status AdminService::WatchRun(grpc::ServerContext* ctx, const v1::GetRunRequest* req,
                                    grpc::ServerWriter<v1::RunStatus>* writer) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return Reply(call.status());
  if (absl::Status st = RequireAdmin(call->peer); !st.ok()) return Reply(st);
  absl::StatusOr<v1::RunStatus> first = coordinator_->RunStatus(req->run_id());
  if (!first.ok()) return Reply(first.status());
  const int64_t run_id = first->run_id();
  std::string last;
  uint64_t seq = 0;
  while (!ctx->IsCancelled()) {
    absl::StatusOr<v1::RunStatus> st = coordinator_->RunStatus(run_id);
    if (!st.ok()) return Reply(st.status());
    std::string bytes = st->SerializeAsString();
    if (bytes != last) {
      if (!writer->Write(*st)) break;
      last = std::move(bytes);
    }
    if (Finished(*st)) break;
    seq = coordinator_->WaitForChange(seq, 1000);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListModels(grpc::ServerContext* ctx, const v1::ListModelsRequest*,
                                      v1::ListModelsResponse* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->ListModels(); });
}

grpc::Status AdminService::PromoteModel(grpc::ServerContext* ctx, const v1::PromoteModelRequest* req,
                                        v1::ModelManifest* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->Promote(req->version(), req->force()); });
}

grpc::Status AdminService::RollbackModel(grpc::ServerContext* ctx, const v1::RollbackModelRequest*,
                                         v1::ModelManifest* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->Rollback(); });
}

grpc::Status AdminService::RevokeSite(grpc::ServerContext* ctx, const v1::RevokeSiteRequest* req,
                                      v1::SiteInfo* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->RevokeSite(req->site_id()); });
}

grpc::Status AdminService::AdmitSources(grpc::ServerContext* ctx, const v1::AdmitSourcesRequest* req,
                                        v1::SiteInfo* resp) {
  return Serve(calls_, *ctx, resp, [&] {
    return coordinator_->AdmitSources(req->site_id(), {req->sources().begin(), req->sources().end()},
                                      req->approve_pending());
  });
}

grpc::Status AdminService::UnrevokeSite(grpc::ServerContext* ctx, const v1::RevokeSiteRequest* req,
                                        v1::SiteInfo* resp) {
  return Serve(calls_, *ctx, resp, [&] { return coordinator_->UnrevokeSite(req->site_id()); });
}

grpc::Status AdminService::ForgetSite(grpc::ServerContext* ctx, const v1::ForgetSiteRequest* req,
                                      v1::ForgetSiteResponse* resp) {
  absl::StatusOr<GatedCall> call = EnterCall(calls_, *ctx);
  if (!call.ok()) return Reply(call.status());
  if (absl::Status st = RequireAdmin(call->peer); !st.ok()) return Reply(st);
  absl::StatusOr<v1::ForgetSiteResponse> r = coordinator_->ForgetSite(req->site_id(), call->peer.id);
  if (!r.ok()) return Reply(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace fedlog::server
