// fedlog-server: the aggregator daemon. Usage: fedlog-server --config server.yaml | --version

#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/base/daemon_args.h"
#include "common/base/logging.h"
#include "common/base/process_limits.h"
#include "common/base/signals.h"
#include "common/base/version.h"
#include "common/net/grpc_log.h"
#include "server/aggregator_server.h"

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0)) {
    std::printf("fedlog-server %s\n", fedlog::kFedlogVersion);
    return 0;
  }
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf("usage: fedlog-server --config FILE | --version\n"
                "The aggregator daemon; FILE is YAML as in deploy/config/aggregator.example.yaml.\n"
                "Exit codes: 0 stopped by a signal, 1 start-up failure (the message says which setting or file), "
                "2 usage.\n");
    return 0;
  }
  const std::string config_path = fedlog::ConfigPathFromArgs(argc, argv);
  if (config_path.empty()) {
    std::fprintf(stderr, "fedlog-server: %s\nusage: %s --config FILE | --version\n",
                 fedlog::ConfigArgsProblem(argc, argv).c_str(), "fedlog-server");
    return 2;
  }
  fedlog::ParseLogLevelFromEnv();
  fedlog::net::RouteGrpcLogs();
  if (absl::Status st = fedlog::InstallTerminationHandler(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  fedlog::SetLogTag("aggregator");
  // Each connection holds a descriptor; the soft limit (often 1,024) would let a few hundred idle connections
  // shut everyone out (common/base/process_limits.h).
  if (absl::StatusOr<fedlog::OpenFileLimit> nofile = fedlog::RaiseOpenFileLimit(); !nofile.ok()) {
    FEDLOG_LOG(WARNING) << nofile.status().message() << "; connections beyond it are refused";
  } else if (nofile->after != nofile->before) {
    FEDLOG_LOG(INFO) << "open-file limit raised from " << nofile->before << " to " << nofile->after;
  }
  // Model-sized buffers (the accumulator, the next model) come and go every round. A fixed mmap threshold hands
  // each back to the kernel when freed; glibc's default dynamic threshold would grow to their size and keep them
  // in the heap for the process's lifetime (docs/BENCHMARKS.md, round memory). The threshold sits just above the
  // 1 MiB transfer chunk: gRPC's message buffers of each chunk then come from the heap and are reused, instead of
  // being mapped, page-faulted in and unmapped for every chunk (about a fifth of the aggregator's CPU time per
  // round on the development VM).
  mallopt(M_MMAP_THRESHOLD, (1 << 20) + (1 << 18));

  absl::StatusOr<fedlog::v1::ServerConfig> config = fedlog::server::LoadServerConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "fedlog-server: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  auto server = fedlog::server::AggregatorServer::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "fedlog-server: %s: %s\n", config_path.c_str(),
                 std::string(server.status().message()).c_str());
    return 1;
  }
  int sig = fedlog::WaitForTermination();
  FEDLOG_LOG(INFO) << "signal " << sig << " received, shutting down";
  (*server)->Shutdown();
  FEDLOG_LOG(INFO) << "stopped";
  return 0;
}
