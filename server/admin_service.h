// gRPC Admin service: every call requires a verified certificate with the admin role (OU=admin) and enters the
// CallGate under it first (limits.max_calls_per_peer per admin identity).
// Thread-safe: state lives in the Coordinator.
#ifndef FEDLOG_SERVER_ADMIN_SERVICE_H_
#define FEDLOG_SERVER_ADMIN_SERVICE_H_

#include "fedlog/v1/admin.grpc.pb.h"
#include "server/call_gate.h"
#include "server/coordinator.h"

namespace fedlog::server {

class AdminService final : public v1::Admin::Service {
 public:
  // `calls` caps each admin's calls in flight (every handler enters it first); both must outlive the service.
  AdminService(Coordinator* coordinator, CallGate* calls) : coordinator_(coordinator), calls_(calls) {}

  grpc::Status ListSites(grpc::ServerContext* ctx, const v1::ListSitesRequest* req,
                         v1::ListSitesResponse* resp) override;
  grpc::Status StartRun(grpc::ServerContext* ctx, const v1::StartRunRequest* req, v1::RunStatus* resp) override;
  grpc::Status StopRun(grpc::ServerContext* ctx, const v1::StopRunRequest* req, v1::RunStatus* resp) override;
  grpc::Status GetRun(grpc::ServerContext* ctx, const v1::GetRunRequest* req, v1::RunStatus* resp) override;
  grpc::Status WatchRun(grpc::ServerContext* ctx, const v1::GetRunRequest* req,
                        grpc::ServerWriter<v1::RunStatus>* writer) override;
  grpc::Status ListModels(grpc::ServerContext* ctx, const v1::ListModelsRequest* req,
                          v1::ListModelsResponse* resp) override;
  grpc::Status PromoteModel(grpc::ServerContext* ctx, const v1::PromoteModelRequest* req,
                            v1::ModelManifest* resp) override;
  grpc::Status RollbackModel(grpc::ServerContext* ctx, const v1::RollbackModelRequest* req,
                             v1::ModelManifest* resp) override;
  grpc::Status RevokeSite(grpc::ServerContext* ctx, const v1::RevokeSiteRequest* req, v1::SiteInfo* resp) override;
  grpc::Status AdmitSources(grpc::ServerContext* ctx, const v1::AdmitSourcesRequest* req,
                            v1::SiteInfo* resp) override;
  grpc::Status UnrevokeSite(grpc::ServerContext* ctx, const v1::RevokeSiteRequest* req,
                            v1::SiteInfo* resp) override;
  grpc::Status ForgetSite(grpc::ServerContext* ctx, const v1::ForgetSiteRequest* req,
                          v1::ForgetSiteResponse* resp) override;

 private:
  Coordinator* const coordinator_;
  CallGate* const calls_;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_ADMIN_SERVICE_H_
