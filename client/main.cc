// fedlog-client: the site daemon. Usage: fedlog-client --config site.yaml

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "client/site_daemon.h"
#include "common/base/logging.h"
#include "common/base/signals.h"

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else if (std::strncmp(argv[i], "--config=", 9) == 0) {
      config_path = argv[i] + 9;
    } else {
      config_path.clear();
      break;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: fedlog-client --config FILE\n");
    return 2;
  }
  fedlog::ParseLogLevelFromEnv();
  if (absl::Status st = fedlog::InstallTerminationHandler(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  fedlog::SetLogTag(std::filesystem::path(config_path).stem().string());

  auto config = fedlog::client::LoadClientConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "fedlog-client: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  auto daemon = fedlog::client::SiteDaemon::Create(*config);
  if (!daemon.ok()) {
    std::fprintf(stderr, "fedlog-client: %s\n", daemon.status().ToString().c_str());
    return 1;
  }
  absl::Status result;
  std::thread runner([&] {
    result = (*daemon)->Run();
    fedlog::RequestTermination();  // wake main when Run ends on its own
  });
  fedlog::WaitForTermination();
  (*daemon)->Stop();
  runner.join();
  if (!result.ok()) {
    std::fprintf(stderr, "fedlog-client: %s\n", result.ToString().c_str());
    return 1;
  }
  FEDLOG_LOG(INFO) << "stopped after " << (*daemon)->rounds_completed() << " round(s)";
  return 0;
}
