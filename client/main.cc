// fedlog-client: the site daemon. Usage: fedlog-client --config site.yaml [--detect-only]
// With a `detect` section in the config it also runs real-time detection (client/detect) beside the
// federation loop; --detect-only runs detection alone (no aggregator, no certificates needed).

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/detect/detector.h"
#include "client/line_labels.h"
#include "client/site_daemon.h"
#include "common/base/daemon_args.h"
#include "common/base/logging.h"
#include "common/base/signals.h"
#include "common/base/status_macros.h"
#include "common/config/yaml_proto.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "fedlog-client: %s\n", message.c_str());
  return 1;
}

// The detector of `config` (nullptr without a detect section).
absl::StatusOr<std::unique_ptr<fedlog::client::detect::Detector>> MakeDetector(
    const fedlog::v1::ClientConfig& config, const std::string& config_path) {
  if (!config.has_detect()) return nullptr;
  const std::string base = std::filesystem::path(config_path).parent_path().string();
  auto options = fedlog::client::detect::DetectOptionsFromConfig(config, base);
  if (!options.ok()) return fedlog::Annotate(options.status(), config_path);
  // The site's labeled training logs (sources[].labels) are few-shot support for the detectors.
  for (const fedlog::v1::LogSourceConfig& s : config.sources()) {
    if (s.labels().empty()) continue;
    const std::string labels_path = fedlog::config::ResolveRelative(config_path, s.labels());
    auto labels = fedlog::client::ReadLineLabels(labels_path);
    if (!labels.ok()) return fedlog::Annotate(labels.status(), config_path);
    options->labeled_logs.push_back(
        {s.name(), fedlog::config::ResolveRelative(config_path, s.path()), std::move(*labels)});
  }
  return fedlog::client::detect::Detector::Create(std::move(*options));
}

}  // namespace

int main(int argc, char** argv) {
  bool detect_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--detect-only") == 0) {
      detect_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  const std::string config_path =
      fedlog::ConfigPathFromArgs(static_cast<int>(args.size()), args.data());
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: %s --config FILE [--detect-only]\n", "fedlog-client");
    return 2;
  }
  fedlog::ParseLogLevelFromEnv();
  if (absl::Status st = fedlog::InstallTerminationHandler(); !st.ok()) return Fail(st.ToString());
  fedlog::SetLogTag(std::filesystem::path(config_path).stem().string());

  std::unique_ptr<fedlog::client::SiteDaemon> daemon;
  fedlog::v1::ClientConfig config;
  if (detect_only) {
    if (absl::Status st = fedlog::config::LoadYamlFile(config_path, &config); !st.ok()) {
      return Fail(std::string(st.message()));
    }
    if (!config.has_detect()) return Fail(config_path + ": --detect-only needs a detect section");
  } else {
    auto loaded = fedlog::client::LoadClientConfig(config_path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *loaded;
    auto created = fedlog::client::SiteDaemon::Create(config);
    if (!created.ok()) return Fail(created.status().ToString());
    daemon = std::move(*created);
  }
  auto detector = MakeDetector(config, config_path);
  if (!detector.ok()) return Fail(detector.status().ToString());

  absl::Status result, detect_result;
  std::thread runner, detect_runner;
  if (daemon) {
    runner = std::thread([&] {
      result = daemon->Run();
      fedlog::RequestTermination();  // wake main when Run ends on its own
    });
  }
  if (*detector) {
    detect_runner = std::thread([&] {
      detect_result = (*detector)->Run();
      if (!detect_result.ok()) fedlog::RequestTermination();
    });
  }
  fedlog::WaitForTermination();
  if (daemon) daemon->Stop();
  if (*detector) (*detector)->Stop();
  if (runner.joinable()) runner.join();
  if (detect_runner.joinable()) detect_runner.join();
  if (!result.ok()) return Fail(result.ToString());
  if (!detect_result.ok()) return Fail(detect_result.ToString());
  if (daemon) {
    FEDLOG_LOG(INFO) << "stopped after " << daemon->rounds_completed() << " round(s)";
  }
  if (*detector) {
    FEDLOG_LOG(INFO) << "detection stopped after " << (*detector)->lines_processed() << " line(s)";
  }
  return 0;
}
