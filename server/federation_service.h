// gRPC Federation service (sync API): authenticates every call from the peer certificate (role "site"; role
// "admin" may also download models, always with every tensor) and hands the work to the Coordinator. Converts
// absl::Status to grpc::Status exactly here.
// Resources (docs/SECURITY.md): every call first enters the CallGate under its caller's certificate (at most
// limits.max_calls_per_peer in flight per certificate, more refused at once); every upload, download and long poll is registered in the StreamRegistry under
// its caller, which caps how many each site holds at once, ends streams that idle or pass their deadline (an
// upload never outlives its round) and cancels a revoked site's streams; each stream re-checks its registration
// before every chunk and before an upload is accepted. Downloads stream their blob file in chunks of at least
// `min_chunk_bytes`; at most `max_downloads` streams send at once and the others wait (memory: each sending
// stream holds a chunk plus gRPC's buffers for it).
// Thread-safe: gRPC calls handlers concurrently; all state is in the Coordinator and the registry.
#ifndef FEDLOG_SERVER_FEDERATION_SERVICE_H_
#define FEDLOG_SERVER_FEDERATION_SERVICE_H_

#include "absl/synchronization/mutex.h"
#include "fedlog/v1/federation.grpc.pb.h"
#include "server/call_gate.h"
#include "server/coordinator.h"
#include "server/stream_registry.h"

namespace fedlog::server {

struct FederationServiceOptions {
  int32_t chunk_bytes = 1 << 20;      // largest download chunk
  int32_t min_chunk_bytes = 1 << 16;  // smallest download chunk; uploads: at most size / this + 2 chunks
  int32_t max_downloads = 4;          // download streams sending at once, all parties
};

class FederationService final : public v1::Federation::Service {
 public:
  // `calls` caps each caller's calls in flight; every handler enters it first. All pointers must outlive the
  // service.
  FederationService(Coordinator* coordinator, ModelBlobs* blobs, StreamRegistry* streams, CallGate* calls,
                    FederationServiceOptions options)
      : coordinator_(coordinator), blobs_(blobs), streams_(streams), calls_(calls), options_(options) {}

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
  // Secure aggregation steps (Coordinator::SecAgg*); the masked input arrives through UploadUpdate.
  grpc::Status SecAggAdvertise(grpc::ServerContext* ctx, const v1::SecAggAdvertiseRequest* req,
                               v1::SecAggAck* resp) override;
  grpc::Status SecAggShareKeys(grpc::ServerContext* ctx, const v1::SecAggShareKeysRequest* req,
                               v1::SecAggAck* resp) override;
  grpc::Status SecAggUnmask(grpc::ServerContext* ctx, const v1::SecAggUnmaskRequest* req,
                            v1::SecAggAck* resp) override;
  grpc::Status SecAggPoll(grpc::ServerContext* ctx, const v1::SecAggPollRequest* req,
                          v1::SecAggPollResponse* resp) override;
  grpc::Status DeclineRound(grpc::ServerContext* ctx, const v1::DeclineRequest* req,
                            v1::DeclineResponse* resp) override;

 private:
  // The rest of an upload whose header says secagg_masked: read into memory and handed to the coordinator.
  grpc::Status FinishMasked(const std::string& site, StreamRegistry::Stream* stream,
                            grpc::ServerReader<v1::UpdateChunk>* reader, const v1::UpdateChunk& first,
                            const UploadTicket& ticket, v1::UploadResponse* resp);
  // Waits for a download slot; false when the stream was cancelled meanwhile.
  bool AcquireDownloadSlot(grpc::ServerContext* ctx, StreamRegistry::Stream* stream);
  void ReleaseDownloadSlot();
  grpc::Status SendBlob(grpc::ServerContext* ctx, const v1::DownloadRequest& req, const std::string& site,
                        StreamRegistry::Stream* stream, grpc::ServerWriter<v1::ModelChunk>* writer);

  Coordinator* const coordinator_;
  ModelBlobs* const blobs_;
  StreamRegistry* const streams_;
  CallGate* const calls_;
  const FederationServiceOptions options_;
  absl::Mutex download_mu_;
  int32_t downloads_ ABSL_GUARDED_BY(download_mu_) = 0;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_FEDERATION_SERVICE_H_
