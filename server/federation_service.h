// gRPC Federation service (sync API): authenticates every call from the peer certificate (role "site"; role
// "admin" may also download models, always with every tensor) and hands the work to the Coordinator. Converts
// absl::Status to grpc::Status exactly here.
// Downloads stream their blob file in chunks; at most `max_downloads` streams send at once and the others wait
// (memory: each sending stream holds a chunk plus gRPC's buffers for it).
// Thread-safe: gRPC calls handlers concurrently; all state is in the Coordinator.
#ifndef FEDLOG_SERVER_FEDERATION_SERVICE_H_
#define FEDLOG_SERVER_FEDERATION_SERVICE_H_

#include "absl/synchronization/mutex.h"
#include "fedlog/v1/federation.grpc.pb.h"
#include "server/coordinator.h"

namespace fedlog::server {

class FederationService final : public v1::Federation::Service {
 public:
  FederationService(Coordinator* coordinator, ModelBlobs* blobs, int32_t chunk_bytes, int32_t max_downloads)
      : coordinator_(coordinator), blobs_(blobs), chunk_bytes_(chunk_bytes), max_downloads_(max_downloads) {}

  grpc::Status Hello(grpc::ServerContext* ctx, const v1::HelloRequest* req, v1::HelloResponse* resp) override;
  grpc::Status GetTask(grpc::ServerContext* ctx, const v1::TaskRequest* req, v1::TaskResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override;
  grpc::Status DownloadModel(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                             grpc::ServerWriter<v1::ModelChunk>* writer) override;
  grpc::Status UploadUpdate(grpc::ServerContext* ctx, grpc::ServerReader<v1::UpdateChunk>* reader,
                            v1::UploadResponse* resp) override;
  grpc::Status ReportEvaluation(grpc::ServerContext* ctx, const v1::EvaluationReport* req,
                                v1::EvaluationAck* resp) override;

 private:
  // Waits for a download slot; false when the call was cancelled meanwhile.
  bool AcquireDownloadSlot(grpc::ServerContext* ctx);
  void ReleaseDownloadSlot();

  Coordinator* const coordinator_;
  ModelBlobs* const blobs_;
  const int32_t chunk_bytes_;
  const int32_t max_downloads_;
  absl::Mutex download_mu_;
  int32_t downloads_ ABSL_GUARDED_BY(download_mu_) = 0;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_FEDERATION_SERVICE_H_
