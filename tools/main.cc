// fedlog: the command-line tool. `fedlog help` lists the verbs.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "common/base/logging.h"
#include "common/base/version.h"
#include "common/net/grpc_log.h"
#include "tools/cli/dispatch.h"
#include "tools/cli/verb.h"

namespace {

// To stdout when asked for (`fedlog help | less`), to stderr after a bare `fedlog`.
void Usage(const std::vector<fedlog::cli::Verb>& verbs, std::FILE* out) {
  std::fprintf(out, "usage: fedlog VERB [options]\n\nverbs:\n");
  for (const auto& v : verbs) std::fprintf(out, "  %-16s %s\n      %s\n", v.name.c_str(), v.summary.c_str(),
                                           ("fedlog " + v.usage).c_str());
}

}  // namespace

namespace fedlog::cli {
void AddFeedbackVerb(std::vector<Verb>* verbs);  // tools/site/feedback_verb.cc
void AddAlertsVerb(std::vector<Verb>* verbs);    // tools/site/alerts_verb.cc
void AddLabelVerb(std::vector<Verb>* verbs);     // tools/site/label_verb.cc
}  // namespace fedlog::cli

int main(int argc, char** argv) {
  fedlog::ParseLogLevelFromEnv();
  fedlog::net::QuietGrpcLogs();  // verbs report failed calls in one sentence of their own
  std::vector<fedlog::cli::Verb> verbs;
  fedlog::cli::AddAdminVerbs(&verbs);
  fedlog::cli::AddOfflineVerbs(&verbs);
  fedlog::cli::AddSiteVerbs(&verbs);
  fedlog::cli::AddFeedbackVerb(&verbs);
  fedlog::cli::AddAlertsVerb(&verbs);
  fedlog::cli::AddLabelVerb(&verbs);
  std::vector<std::string> words(argv + 1, argv + argc);
  if (!words.empty() && (words[0] == "--version" || words[0] == "version")) {
    std::printf("fedlog %s\n", fedlog::kFedlogVersion);
    return 0;
  }
  if (words.empty() || words[0] == "help" || words[0] == "--help" || words[0] == "-h") {
    Usage(verbs, words.empty() ? stderr : stdout);
    return words.empty() ? 2 : 0;
  }
  absl::StatusOr<fedlog::cli::FoundVerb> found = fedlog::cli::FindVerb(verbs, words);
  if (!found.ok()) {
    std::fprintf(stderr, "fedlog: %s\n", std::string(found.status().message()).c_str());
    return 2;
  }
  const fedlog::cli::Verb& verb = *found->verb;
  std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(found->words), words.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
      std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
    std::printf("usage: fedlog %s\n\n%s\n", verb.usage.c_str(), verb.summary.c_str());
    return 0;
  }
  return verb.run(rest);
}
