// fedlog-server: the aggregator daemon. Usage: fedlog-server --config server.yaml

#include <cstdio>
#include <cstring>
#include <string>

#include "common/base/logging.h"
#include "common/base/signals.h"
#include "server/aggregator_server.h"

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else if (std::strncmp(argv[i], "--config=", 9) == 0) {
      config_path = argv[i] + 9;
    } else {
      std::fprintf(stderr, "usage: fedlog-server --config FILE\n");
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: fedlog-server --config FILE\n");
    return 2;
  }
  fedlog::ParseLogLevelFromEnv();
  if (absl::Status st = fedlog::InstallTerminationHandler(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  fedlog::SetLogTag("aggregator");

  absl::StatusOr<fedlog::v1::ServerConfig> config = fedlog::server::LoadServerConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "fedlog-server: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  auto server = fedlog::server::AggregatorServer::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "fedlog-server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  int sig = fedlog::WaitForTermination();
  FEDLOG_LOG(INFO) << "signal " << sig << " received, shutting down";
  (*server)->Shutdown();
  FEDLOG_LOG(INFO) << "stopped";
  return 0;
}
