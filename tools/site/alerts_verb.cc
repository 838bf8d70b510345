// `fedlog alerts`: the live detector's alerts at a site, read from its alerts file (JSON lines, one alert per
// line; docs/DETECTION.md), filtered by time and source, as a table (with the line's own time and the time the
// alert was raised) or as the raw JSON lines.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/detect/detect_options.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/config/yaml_proto.h"
#include "fedlog/v1/config.pb.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

// The alerts file: --file, or the detect section of --config (default <data_dir>/alerts.jsonl).
absl::StatusOr<std::string> AlertsFile(const Args& args) {
  if (args.Has("file")) return args.Get("file");
  if (!args.Has("config")) return absl::InvalidArgumentError("--config SITE.yaml or --file ALERTS.jsonl is required");
  v1::ClientConfig config;
  FEDLOG_RETURN_IF_ERROR(config::LoadYamlFile(args.Get("config"), &config));
  if (!config.has_detect()) {
    return absl::FailedPreconditionError(args.Get("config") + " has no detect section: this site raises no alerts");
  }
  const std::string base = std::filesystem::path(args.Get("config")).parent_path().string();
  FEDLOG_ASSIGN_OR_RETURN(client::detect::DetectOptions o, client::detect::DetectOptionsFromConfig(config, base));
  return o.alerts_file;
}

// --since: a duration back from now ("90s", "30m", "2h") or an RFC 3339 time ("2026-12-05T08:00:00Z").
absl::StatusOr<absl::Time> Since(const Args& args) {
  if (!args.Has("since")) return absl::InfinitePast();
  const std::string v = args.Get("since");
  absl::Duration d;
  if (absl::ParseDuration(v, &d) && d >= absl::ZeroDuration()) return absl::Now() - d;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &err)) return t;
  return absl::InvalidArgumentError(
      absl::StrCat("--since '", v, "' is neither a duration (30m, 2h) nor an RFC 3339 time (2026-12-05T08:00:00Z)"));
}

std::string Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  if (it == s.fields().end()) return "";
  if (it->second.has_number_value()) return absl::StrCat(it->second.number_value());
  return it->second.string_value();
}

int Alerts(const std::vector<std::string>& argv) {
  auto fail = [](const absl::Status& st, int code) {
    std::fprintf(stderr, "fedlog alerts: %s\n", std::string(st.message()).c_str());
    return code;
  };
  auto args = Args::Parse(argv, {{"config", "file", "since", "source"}, {"json"}});
  if (!args.ok()) return fail(args.status(), 2);
  auto path = AlertsFile(*args);
  if (!path.ok()) return fail(path.status(), path.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
  auto since = Since(*args);
  if (!since.ok()) return fail(since.status(), 2);
  if (!FileExists(*path)) {
    std::fprintf(stderr, "fedlog alerts: no alerts yet (%s does not exist)\n", path->c_str());
    return 0;
  }
  auto text = ReadFile(*path);
  if (!text.ok()) return fail(text.status(), 1);
  const bool json = args->Has("json");
  if (!json) {
    std::printf("%-24s %-24s %-12s %-9s %-9s %-6s %-16s %s\n", "TIME", "RAISED", "SOURCE", "SCORE", "THRESHOLD",
                "MODEL", "ID", "LINE");
  }
  int64_t shown = 0, bad = 0, older = 0;
  absl::Time newest_older = absl::InfinitePast();
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct alert;
    if (!google::protobuf::util::JsonStringToMessage(std::string(line), &alert).ok()) {
      ++bad;  // a line cut by a crash mid-write
      continue;
    }
    const std::string time = Field(alert, "time");
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, time, &t, &err)) continue;
    if (t < *since) {
      ++older;
      newest_older = std::max(newest_older, t);
      continue;
    }
    if (args->Has("source") && Field(alert, "source") != args->Get("source")) continue;
    ++shown;
    if (json) {
      std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
      continue;
    }
    std::string text_line = Field(alert, "line");
    if (text_line.size() > 100) text_line = text_line.substr(0, 97) + "...";
    // RAISED: when the detector wrote the alert; "-" for a line of an older version, which did not say.
    const std::string raised = Field(alert, "raised");
    std::printf("%-24s %-24s %-12s %-9.4g %-9.4g %-6s %-16s %s\n", time.c_str(), raised.empty() ? "-" : raised.c_str(),
                Field(alert, "source").c_str(),
                alert.fields().count("score") ? alert.fields().at("score").number_value() : 0.0,
                alert.fields().count("threshold") ? alert.fields().at("threshold").number_value() : 0.0,
                absl::StrCat("v", Field(alert, "model_version")).c_str(), Field(alert, "id").c_str(),
                text_line.c_str());
  }
  std::fflush(stdout);
  if (!json) std::fprintf(stderr, "%lld alert(s) from %s\n", static_cast<long long>(shown), path->c_str());
  if (shown == 0 && older > 0) {
    // An alert's time is its line's own timestamp: a replayed or synthetic log, or a host whose clock or log
    // time zone is off, holds alerts that no --since back from now reaches.
    std::fprintf(stderr,
                 "fedlog alerts: %lld alert(s) are older than --since %s; an alert's time is its log line's own "
                 "timestamp (RAISED is when it was raised), and the newest of them is %s (leave out --since to "
                 "see them)\n",
                 static_cast<long long>(older), args->Get("since").c_str(),
                 absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", newest_older, absl::UTCTimeZone()).c_str());
  }
  if (bad > 0) std::fprintf(stderr, "fedlog alerts: %lld line(s) of %s are not JSON, skipped\n",
                            static_cast<long long>(bad), path->c_str());
  return 0;
}

}  // namespace

void AddAlertsVerb(std::vector<Verb>* verbs) {
  verbs->push_back({"alerts", "alerts (--config SITE.yaml | --file ALERTS.jsonl) [--since 30m|RFC3339] [--source NAME] [--json]",
                    "list the site's live-detection alerts (newest last), as a table or JSON lines", Alerts});
}

}  // namespace fedlog::cli
