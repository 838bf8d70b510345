// AggregatorServer: assembles the aggregator — state store, model blobs, coordinator, the per-certificate cap on
// calls in flight (CallGate) and the two gRPC services behind one mTLS port — from a ServerConfig. Used by
// server/main.cc and by in-process integration tests. A watchdog thread rebuilds the listener when gRPC reports
// a failed accept (net::ListenerAcceptFailures, counted once net::RouteGrpcLogs is installed), since gRPC 1.51
// would never accept on it again.
// Thread-safe: Shutdown() may be called from any thread, once.
#ifndef FEDLOG_SERVER_AGGREGATOR_SERVER_H_
#define FEDLOG_SERVER_AGGREGATOR_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fedlog/v1/config.pb.h"
#include "server/admin_service.h"
#include "server/call_gate.h"
#include "server/coordinator.h"
#include "server/federation_service.h"
#include "server/stream_registry.h"

namespace fedlog::server {

// Fills documented defaults (config.proto) and checks required fields. Relative paths are resolved against
// `base_dir` (the config file's directory) when it is not empty.
absl::Status FinalizeServerConfig(v1::ServerConfig* config, const std::string& base_dir = "");

// Reads a YAML config file and finalizes it.
absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path);

class AggregatorServer {
 public:
  // Opens state, recovers any active run and starts serving. The config must be finalized.
  static absl::StatusOr<std::unique_ptr<AggregatorServer>> Start(const v1::ServerConfig& config);
  ~AggregatorServer();

  int port() const { return port_; }
  // How many times the watchdog rebuilt the listener after gRPC reported a failed accept (WatchListener).
  int64_t listener_restarts();
  Coordinator* coordinator() { return coordinator_.get(); }
  StreamRegistry* streams() { return streams_.get(); }
  ModelBlobs* blobs() { return blobs_.get(); }
  // Stops accepting calls, wakes long polls, waits for handlers, stops the scheduler.
  void Shutdown();

 private:
  AggregatorServer() = default;
  // Builds the two services and the gRPC server on `address` (sets server_, port_).
  absl::Status Listen(const std::string& address);
  // The listener watchdog's loop (runs until Shutdown).
  void WatchListener();

  std::unique_ptr<StateStore> store_;
  std::unique_ptr<ModelBlobs> blobs_;
  std::unique_ptr<StreamRegistry> streams_;  // outlives the gRPC server and the coordinator's revocation hook
  std::unique_ptr<CallGate> calls_;  // per-certificate calls in flight; outlives the gRPC server and its handlers
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<FederationService> federation_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<int> port_{0};
  bool shut_down_ = false;
  v1::ServerConfig config_;
  std::string listen_host_;  // listen_address's host; the watchdog rebuilds on it and port_
  std::shared_ptr<grpc::ServerCredentials> creds_;
  FederationServiceOptions fed_options_;
  absl::Mutex listen_mu_;  // the watchdog's rebuild against Shutdown
  bool stopping_ ABSL_GUARDED_BY(listen_mu_) = false;
  int64_t listener_restarts_ ABSL_GUARDED_BY(listen_mu_) = 0;
  std::thread watchdog_;
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_AGGREGATOR_SERVER_H_
