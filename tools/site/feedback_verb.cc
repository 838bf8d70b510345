// `fedlog feedback ALERT_ID --confirm|--false-positive`: the operator's verdict on an alert of the
// site's live detector, stored in the site's local store (<data_dir>/detect.db). The alert's
// encoder input becomes a labeled line (1 confirmed, 0 false positive): the running detector
// reloads its per-source detector with it as support, and the next training round can use it as a
// label.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/detect/detect_store.h"
#include "client/detect/detector.h"
#include "common/base/file_util.h"
#include "common/config/yaml_proto.h"
#include "fedlog/v1/config.pb.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
namespace {

absl::StatusOr<std::string> DataDir(const Args& args) {
  if (args.Has("data-dir")) return args.Get("data-dir");
  if (!args.Has("config"))
    return absl::InvalidArgumentError("--config FILE or --data-dir DIR is required");
  v1::ClientConfig config;
  if (absl::Status st = config::LoadYamlFile(args.Get("config"), &config); !st.ok()) return st;
  if (config.data_dir().empty())
    return absl::InvalidArgumentError(args.Get("config") + ": no data_dir");
  return config::ResolveRelative(args.Get("config"), config.data_dir());
}

int Feedback(const std::vector<std::string>& argv) {
  auto fail = [](const absl::Status& st, int code) {
    std::fprintf(stderr, "fedlog feedback: %s\n", std::string(st.message()).c_str());
    return code;
  };
  auto args = Args::Parse(argv, {{"config", "data-dir"}, {"confirm", "false-positive"}});
  if (!args.ok()) return fail(args.status(), 2);
  if (args->positionals().size() != 1 || args->Has("confirm") == args->Has("false-positive")) {
    return fail(absl::InvalidArgumentError(
                    "give one ALERT_ID and exactly one of --confirm, --false-positive"),
                2);
  }
  auto dir = DataDir(*args);
  if (!dir.ok()) return fail(dir.status(), 2);
  const std::string db = client::detect::DetectStorePath(*dir);
  if (!FileExists(db))
    return fail(absl::NotFoundError(absl::StrCat("no detection store at ", db)), 1);
  auto store = client::detect::DetectStore::Open(db);
  if (!store.ok()) return fail(store.status(), 1);
  const std::string& id = args->positionals()[0];
  const bool confirmed = args->Has("confirm");
  auto previous = (*store)->FeedbackOf(id);
  if (!previous.ok()) return fail(previous.status(), 1);
  if (absl::Status st = (*store)->RecordFeedback(id, confirmed, absl::ToUnixMillis(absl::Now()));
      !st.ok()) {
    if (st.code() == absl::StatusCode::kNotFound) {
      st = absl::NotFoundError(absl::StrCat(st.message(), " (", db, "); `fedlog alerts` lists the site's alert ids, "
                                            "and the store keeps the newest detect.retention_alerts of them"));
    }
    return fail(st, 1);
  }
  std::printf("alert %s marked %s; it is now %s label for the site\n", id.c_str(),
              confirmed ? "confirmed" : "false positive", confirmed ? "an anomalous" : "a normal");
  if (previous->has_value()) {
    const bool same = **previous == (confirmed ? "confirm" : "false_positive");
    std::printf("(it replaces the earlier verdict '%s'%s)\n",
                **previous == "confirm" ? "confirmed" : "false positive", same ? ", the same" : "");
  }
  return 0;
}

}  // namespace

void AddFeedbackVerb(std::vector<Verb>* verbs) {
  verbs->push_back(
      {"feedback",
       "feedback ALERT_ID --confirm|--false-positive (--config SITE.yaml | --data-dir DIR)",
       "stores the operator's verdict on a live-detection alert; verdicts become local labels",
       Feedback});
}

}  // namespace fedlog::cli
