// fedlog-client: the site daemon. Usage: fedlog-client --config site.yaml [--detect-only] | --version
// With a `detect` section in the config it also runs real-time detection (client/detect) beside the
// federation loop; --detect-only runs detection alone (no aggregator, no certificates needed).
// Exit codes: 0 stopped by a signal, 1 start-up or run failure, 2 usage, 3 (kExitRevoked) the aggregator
// revoked or refused this site for good: restarting cannot help (deploy/systemd: RestartPreventExitStatus=3).
// A revoked site with a detect section keeps detecting with its last promoted model.

#include <glob.h>

#include <algorithm>
#include <atomic>
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
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/daemon_args.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/signals.h"
#include "common/base/status_macros.h"
#include "common/base/version.h"
#include "common/config/yaml_proto.h"
#include "common/net/grpc_log.h"
#include "common/net/tls.h"

namespace {

constexpr int kExitRevoked = 3;

int Fail(const std::string& message) {
  std::fprintf(stderr, "fedlog-client: %s\n", message.c_str());
  return 1;
}

// Checks the detect section against the training sources and the file system: a detect source whose name is
// not a training source is refused (the model has no adapter for it; names are case-sensitive); a watched path
// that matches no file is a warning (it may appear later; /healthz says so meanwhile).
absl::Status CheckDetectSources(const fedlog::v1::ClientConfig& config,
                                const fedlog::client::detect::DetectOptions& options) {
  std::vector<std::string> trained;
  for (const auto& s : config.sources()) trained.push_back(s.name());
  for (const auto& s : options.sources) {
    if (!trained.empty() && std::find(trained.begin(), trained.end(), s.name) == trained.end()) {
      std::string hint;
      for (const auto& t : trained) {
        if (absl::EqualsIgnoreCase(t, s.name)) hint = absl::StrCat(" (did you mean '", t, "'? names are case-sensitive)");
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "detect source '", s.name, "' is not one of this site's training sources (", absl::StrJoin(trained, ", "),
          ")", hint, "; the federated model has no adapter for it"));
    }
    for (const auto& pattern : s.paths) {
      if (pattern == "-") continue;
      glob_t g{};
      const bool matched = glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0;
      globfree(&g);
      if (!matched) {
        FEDLOG_LOG(WARNING) << "detect source " << s.name << ": '" << pattern
                            << "' matches no file yet; it is watched and read once it appears";
      }
    }
  }
  return absl::OkStatus();
}

// The detector of `config` (nullptr without a detect section).
absl::StatusOr<std::unique_ptr<fedlog::client::detect::Detector>> MakeDetector(
    const fedlog::v1::ClientConfig& config, const std::string& config_path) {
  if (!config.has_detect()) return nullptr;
  const std::string base = std::filesystem::path(config_path).parent_path().string();
  auto options = fedlog::client::detect::DetectOptionsFromConfig(config, base);
  if (!options.ok()) return fedlog::Annotate(options.status(), config_path);
  FEDLOG_RETURN_IF_ERROR(fedlog::Annotate(CheckDetectSources(config, *options), config_path));
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

// Tags this process's log lines with the site id (its certificate's CN), so two sites whose configs are both
// site.yaml stay apart; falls back to the config file's name.
void TagLogs(const fedlog::v1::ClientConfig& config, const std::string& config_path) {
  std::string tag = std::filesystem::path(config_path).stem().string();
  if (!config.tls().cert().empty()) {
    const std::string cert = fedlog::config::ResolveRelative(config_path, config.tls().cert());
    if (absl::StatusOr<std::string> pem = fedlog::ReadFile(cert); pem.ok()) {
      if (auto id = fedlog::net::IdentityFromPem(*pem); id.ok()) tag = id->id;
    }
  }
  fedlog::SetLogTag(tag);
}

// The command line: --version / --help answered here (*exit_code set, returns false); otherwise the config path
// (absolute) and --detect-only, or a usage error (*exit_code 2, returns false).
bool ParseCommandLine(int argc, char** argv, std::string* config_path, bool* detect_only, int* exit_code) {
  if (argc == 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0)) {
    std::printf("fedlog-client %s\n", fedlog::kFedlogVersion);
    *exit_code = 0;
    return false;
  }
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf("usage: fedlog-client --config FILE [--detect-only] | --version\n"
                "The site daemon; FILE is YAML as in deploy/config/site.example.yaml. --detect-only runs live\n"
                "detection alone (no aggregator). Exit codes: 0 stopped by a signal, 1 failure (the message says\n"
                "which setting or file), 2 usage, 3 revoked or refused by the aggregator (do not restart).\n");
    *exit_code = 0;
    return false;
  }
  *detect_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--detect-only") == 0) {
      *detect_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  *config_path = fedlog::ConfigPathFromArgs(static_cast<int>(args.size()), args.data());
  if (config_path->empty()) {
    std::fprintf(stderr, "fedlog-client: %s\nusage: %s --config FILE [--detect-only] | --version\n",
                 fedlog::ConfigArgsProblem(static_cast<int>(args.size()), args.data()).c_str(), "fedlog-client");
    *exit_code = 2;
    return false;
  }
  // Absolute, so that paths resolved against its folder once (LoadClientConfig) are never resolved again (the
  // detector and the labels below) into build/first/build/first/... when the daemon is started with a relative
  // --config.
  *config_path = std::filesystem::absolute(*config_path).lexically_normal().string();
  return true;
}

// Loads the config; without --detect-only also creates the federation daemon (*daemon), whose config loader
// resolves and checks the training sources.
absl::Status LoadSite(const std::string& config_path, bool detect_only, fedlog::v1::ClientConfig* config,
                      std::unique_ptr<fedlog::client::SiteDaemon>* daemon) {
  if (detect_only) {
    if (absl::Status st = fedlog::config::LoadYamlFile(config_path, config); !st.ok()) {
      return absl::InvalidArgumentError(st.message());
    }
    if (!config->has_detect()) {
      return absl::InvalidArgumentError(config_path + ": --detect-only needs a detect section");
    }
    return absl::OkStatus();
  }
  auto loaded = fedlog::client::LoadClientConfig(config_path);
  if (!loaded.ok()) return absl::InvalidArgumentError(loaded.status().message());
  *config = *loaded;
  TagLogs(*config, config_path);
  auto created = fedlog::client::SiteDaemon::Create(*config);
  if (!created.ok()) return absl::InvalidArgumentError(config_path + ": " + std::string(created.status().message()));
  *daemon = std::move(*created);
  return absl::OkStatus();
}

// Warns about label files whose lines do not match their logs (client/line_labels.h).
void WarnAboutLabels(const fedlog::v1::ClientConfig& config, const std::string& config_path) {
  for (const fedlog::v1::LogSourceConfig& s : config.sources()) {
    if (s.labels().empty()) continue;  // paths are resolved by LoadClientConfig, not in --detect-only
    const std::string labels_path = fedlog::config::ResolveRelative(config_path, s.labels());
    if (auto labels = fedlog::client::ReadLineLabels(labels_path); labels.ok()) {
      fedlog::client::WarnAboutLineLabels(labels_path, fedlog::config::ResolveRelative(config_path, s.path()),
                                          *labels);
    }
  }
}

// Runs the federation daemon and the detector (either may be null) on their own threads until a signal, or
// until federation ends on its own, or detection fails; returns the exit code.
int RunUntilStopped(fedlog::client::SiteDaemon* daemon, fedlog::client::detect::Detector* detector) {
  absl::Status result, detect_result;
  std::thread runner, detect_runner;
  std::atomic<bool> revoked{false};
  if (daemon) {
    runner = std::thread([&] {
      result = daemon->Run();
      const bool refused = result.code() == absl::StatusCode::kPermissionDenied ||
                           result.code() == absl::StatusCode::kUnauthenticated;
      if (refused && detector) {
        // Revocation ends federation, not the site's own detection: keep scoring with the model on disk.
        revoked = true;
        FEDLOG_LOG(ERROR) << "federation stopped: " << result.message()
                          << "; live detection continues with the promoted model v" << detector->model_version()
                          << ". After `fedlog sites unrevoke` at the aggregator, restart this daemon.";
        detector->SetFederationNote(absl::StrCat("stopped: ", result.message()));
        return;
      }
      fedlog::RequestTermination();  // wake main when Run ends on its own
    });
  }
  if (detector) {
    detect_runner = std::thread([&] {
      detect_result = detector->Run();
      if (!detect_result.ok()) fedlog::RequestTermination();
    });
  }
  fedlog::WaitForTermination();
  if (daemon) daemon->Stop();
  if (detector) detector->Stop();
  if (runner.joinable()) runner.join();
  if (detect_runner.joinable()) detect_runner.join();
  if (result.code() == absl::StatusCode::kPermissionDenied || result.code() == absl::StatusCode::kUnauthenticated) {
    if (!revoked) {
      Fail(std::string(result.message()) +
           " (exit 3: restarting cannot help; an admin can lift a revocation with `fedlog sites unrevoke`)");
      return kExitRevoked;
    }
    result = absl::OkStatus();  // detection ran on after the revocation and was stopped by a signal
  }
  if (!result.ok()) return Fail(result.ToString());
  if (!detect_result.ok()) return Fail(detect_result.ToString());
  if (daemon) {
    FEDLOG_LOG(INFO) << "stopped after " << daemon->rounds_completed() << " round(s)";
  }
  if (detector) {
    FEDLOG_LOG(INFO) << "detection stopped after " << detector->lines_processed() << " line(s)";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool detect_only = false;
  if (int exit_code = 0; !ParseCommandLine(argc, argv, &config_path, &detect_only, &exit_code)) return exit_code;
  fedlog::ParseLogLevelFromEnv();
  fedlog::net::QuietGrpcLogs();
  if (absl::Status st = fedlog::InstallTerminationHandler(); !st.ok()) return Fail(st.ToString());
  fedlog::SetLogTag(std::filesystem::path(config_path).stem().string());

  std::unique_ptr<fedlog::client::SiteDaemon> daemon;
  fedlog::v1::ClientConfig config;
  if (absl::Status st = LoadSite(config_path, detect_only, &config, &daemon); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  WarnAboutLabels(config, config_path);
  auto detector = MakeDetector(config, config_path);
  if (!detector.ok()) return Fail(std::string(detector.status().message()));
  return RunUntilStopped(daemon.get(), detector->get());
}
