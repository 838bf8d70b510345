// fedlog: the command-line tool. `fedlog help` lists the verbs.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/base/logging.h"
#include "common/base/version.h"
#include "common/net/grpc_log.h"
#include "tools/cli/verb.h"

namespace {

void Usage(const std::vector<fedlog::cli::Verb>& verbs) {
  std::fprintf(stderr, "usage: fedlog VERB [options]\n\nverbs:\n");
  for (const auto& v : verbs) std::fprintf(stderr, "  %-16s %s\n      %s\n", v.name.c_str(), v.summary.c_str(),
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
    Usage(verbs);
    return words.empty() ? 2 : 0;
  }
  // Longest match first: "run start" before "run".
  for (size_t n : {size_t{2}, size_t{1}}) {
    if (words.size() < n) continue;
    std::string name = n == 2 ? words[0] + " " + words[1] : words[0];
    for (const auto& v : verbs) {
      if (v.name != name) continue;
      std::vector<std::string> rest(words.begin() + n, words.end());
      if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
          std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
        std::printf("usage: fedlog %s\n\n%s\n", v.usage.c_str(), v.summary.c_str());
        return 0;
      }
      return v.run(rest);
    }
  }
  std::fprintf(stderr, "fedlog: unknown verb '%s'\n\n", words[0].c_str());
  Usage(verbs);
  return 2;
}
