// A hostile aggregator for the site's attack tests (hostile_aggregator_test.cc): a v1::Federation service on
// loopback over real mTLS, presenting the aggregator certificate (CN aggregator, OU aggregator) of a PKI made at
// test time, whose answers each test sets: the hello, the task every GetTask gets, the model stream (its chunks
// as given, or endless data chunks after them until the site cancels) and the answer to each secure-aggregation
// poll step. Calls it does not script answer UNIMPLEMENTED. Thread-safe: a test sets answers while a site calls.
#ifndef FEDLOG_TESTS_INTEGRATION_FAKE_AGGREGATOR_H_
#define FEDLOG_TESTS_INTEGRATION_FAKE_AGGREGATOR_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "common/fl/tensor_bundle.h"
#include "fedlog/v1/federation.grpc.pb.h"

namespace fedlog::testing {

// The chunks of an honest stream of `bytes` under `manifest` (its sha256 and size_bytes are not touched): the
// manifest alone first, then the bytes in pieces of `chunk_bytes`.
std::vector<v1::ModelChunk> ModelChunks(const v1::ModelManifest& manifest, const std::string& bytes,
                                        size_t chunk_bytes = 64 << 10);

// An honest model of `spec`: its initial weights (common/model/site_model.h), encoded, and the manifest of
// version `version` that describes them (sha256, size, spec). `edit`, when set, changes the weights first
// (a hostile model whose digest and size are still right).
struct FakeModel {
  v1::ModelManifest manifest;
  std::string bytes;
};
FakeModel MakeFakeModel(const v1::ModelSpec& spec, int64_t version,
                        const std::function<void(fl::TensorBundle*)>& edit = nullptr);

class FakeAggregator final : public v1::Federation::Service {
 public:
  // Listens on 127.0.0.1 (a free port) with `pki`/aggregator.{crt,key}, trusting `pki`/ca.crt; null and a test
  // failure when it cannot start.
  static std::unique_ptr<FakeAggregator> Start(const std::string& pki);
  ~FakeAggregator() override;

  int port() const { return port_; }
  void SetHello(const v1::HelloResponse& hello);
  void SetTask(const v1::TaskResponse& task);
  // `endless`: after `chunks`, data chunks of 64 KiB until the call is cancelled (or 1 GiB was sent). No chunks
  // and not endless (the default before any SetModel): the call fails with NOT_FOUND.
  void SetModel(std::vector<v1::ModelChunk> chunks, bool endless = false);
  void SetPoll(v1::SecAggPollRequest::Step step, const v1::SecAggPollResponse& response);

  int downloads() const { return downloads_.load(); }
  int64_t bytes_streamed() const { return bytes_streamed_.load(); }
  int polls() const { return polls_.load(); }

  grpc::Status Hello(grpc::ServerContext* ctx, const v1::HelloRequest* req, v1::HelloResponse* resp) override;
  grpc::Status GetTask(grpc::ServerContext* ctx, const v1::TaskRequest* req, v1::TaskResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override;
  grpc::Status DownloadModel(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                             grpc::ServerWriter<v1::ModelChunk>* writer) override;
  grpc::Status ReportEvaluation(grpc::ServerContext* ctx, const v1::EvaluationReport* req,
                                v1::EvaluationAck* resp) override;
  grpc::Status SecAggAdvertise(grpc::ServerContext* ctx, const v1::SecAggAdvertiseRequest* req,
                               v1::SecAggAck* resp) override;
  grpc::Status SecAggPoll(grpc::ServerContext* ctx, const v1::SecAggPollRequest* req,
                          v1::SecAggPollResponse* resp) override;
  grpc::Status DeclineRound(grpc::ServerContext* ctx, const v1::DeclineRequest* req,
                            v1::DeclineResponse* resp) override;

 private:
  FakeAggregator() = default;

  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<int> downloads_{0};
  std::atomic<int64_t> bytes_streamed_{0};
  std::atomic<int> polls_{0};
  absl::Mutex mu_;
  v1::HelloResponse hello_ ABSL_GUARDED_BY(mu_);
  v1::TaskResponse task_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ModelChunk> chunks_ ABSL_GUARDED_BY(mu_);
  bool endless_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int, v1::SecAggPollResponse> polls_by_step_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_FAKE_AGGREGATOR_H_
