// FederationSession: the site's side of the Federation protocol over one mTLS channel — hello, long-poll for
// tasks, heartbeat, chunked model download and chunked update upload. Every call can be cancelled from another
// thread with CancelAll() (used on SIGTERM). Thread-safe.
#ifndef FEDLOG_CLIENT_FEDERATION_SESSION_H_
#define FEDLOG_CLIENT_FEDERATION_SESSION_H_

#include <memory>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/fl/tensor_bundle.h"
#include "fedlog/v1/federation.grpc.pb.h"

namespace fedlog::client {

struct DownloadedModel {
  v1::ModelManifest manifest;
  fl::TensorBundle bundle;
  int64_t bytes = 0;
};

class FederationSession {
 public:
  explicit FederationSession(std::shared_ptr<grpc::Channel> channel, int32_t chunk_bytes = 1 << 20);

  absl::StatusOr<v1::HelloResponse> Hello(const v1::HelloRequest& request);
  absl::StatusOr<v1::TaskResponse> GetTask(int32_t wait_ms);
  absl::Status Heartbeat(const std::string& state);
  // Downloads a version (0 = promoted) and checks its sha256 against the manifest (DataLoss on mismatch).
  // all_adapters false: the shared tensors plus the adapters of this site's own sources (what a site trains and
  // scores with); true: every tensor.
  absl::StatusOr<DownloadedModel> Download(int64_t version, bool all_adapters = false);
  // Uploads encoded update bytes in chunks; fills header.size_bytes and sha256.
  absl::Status Upload(v1::UpdateHeader header, const std::string& bytes);
  absl::Status ReportEvaluation(const v1::EvaluationReport& report);
  // Secure aggregation steps (client/secagg_client.h drives them; the masked input goes through Upload).
  absl::Status SecAggAdvertise(const v1::SecAggAdvertiseRequest& request);
  absl::Status SecAggShareKeys(const v1::SecAggShareKeysRequest& request);
  absl::Status SecAggUnmask(const v1::SecAggUnmaskRequest& request);
  absl::StatusOr<v1::SecAggPollResponse> SecAggPoll(const v1::SecAggPollRequest& request);
  // Tells the aggregator this site will not take part in `round` of `run_id` (its privacy policy), and why.
  absl::Status DeclineRound(int64_t run_id, int32_t round, const std::string& reason);

  // Cancels every call in flight and makes later calls fail with Cancelled.
  void CancelAll();

 private:
  // Registers a context for CancelAll; false when already cancelled.
  bool Track(grpc::ClientContext* ctx);
  void Untrack(grpc::ClientContext* ctx);

  std::unique_ptr<v1::Federation::Stub> stub_;
  const int32_t chunk_bytes_;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_FEDERATION_SESSION_H_
