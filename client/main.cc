// fedlog-client: the site daemon. Usage: fedlog-client --config site.yaml

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "client/site_daemon.h"
#include "common/base/daemon_args.h"
#include "common/base/logging.h"
#include "common/base/signals.h"

int main(int argc, char** argv) {
  const std::string config_path = fedlog::ConfigPathFromArgs(argc, argv);
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: %s --config FILE\n", "fedlog-client");
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
