// FederationSession: the site's side of the Federation protocol over one mTLS channel — hello, long-poll for
// tasks, heartbeat, chunked model download and chunked update upload. Every call can be cancelled from another
// thread with CancelAll() (used on SIGTERM). What the aggregator sends is untrusted (client/aggregator_checks.h):
// a download is bounded by the site's max_model_bytes before a byte is buffered. Thread-safe.
#ifndef FEDLOG_CLIENT_FEDERATION_SESSION_H_
#define FEDLOG_CLIENT_FEDERATION_SESSION_H_

#include <memory>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/aggregator_checks.h"
#include "common/base/sha256.h"
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
  // `max_model_bytes`: the largest model this site downloads (ClientConfig.max_model_bytes).
  explicit FederationSession(std::shared_ptr<grpc::Channel> channel, int32_t chunk_bytes = 1 << 20,
                             int64_t max_model_bytes = kDefaultMaxModelBytes);

  absl::StatusOr<v1::HelloResponse> Hello(const v1::HelloRequest& request);
  absl::StatusOr<v1::TaskResponse> GetTask(int32_t wait_ms);
  absl::Status Heartbeat(const std::string& state);
  // Downloads a version (0 = promoted). The manifest must pass CheckManifest (InvalidArgument), the stream must
  // carry exactly its size_bytes (DataLoss; the call is cancelled as soon as it carries more) and their sha256
  // must match it (DataLoss); the bytes then decode with DecodeBundle within max_model_bytes.
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
  // Reads a model stream into `bytes` (and `digest`), checking the manifest first and the size as chunks come:
  // a refusal returns at once, with the rest of the stream unread. OK, with `manifest` untouched, when the stream
  // ended before its first chunk (the call's status then says why).
  absl::Status ReadModelStream(grpc::ClientReaderInterface<v1::ModelChunk>* reader, int64_t version,
                               v1::ModelManifest* manifest, std::string* bytes, Sha256* digest) const;

  std::unique_ptr<v1::Federation::Stub> stub_;
  const int32_t chunk_bytes_;
  const int64_t max_model_bytes_;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_FEDERATION_SESSION_H_
