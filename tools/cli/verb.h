// The `fedlog` CLI is a table of verbs. Each verb group (admin verbs talking to the aggregator, offline verbs
// such as parse/synth/eval/bench) adds its entries from its own file; tools/main.cc dispatches on the longest
// matching verb name ("run start" before "run").
#ifndef FEDLOG_TOOLS_CLI_VERB_H_
#define FEDLOG_TOOLS_CLI_VERB_H_

#include <functional>
#include <string>
#include <vector>

namespace fedlog::cli {

struct Verb {
  std::string name;     // one or two words: "sites", "run start", "eval parsing"
  std::string usage;    // one line: "run start --rounds N --min-sites K [--deadline-s S]"
  std::string summary;  // what it does, one sentence
  // Runs the verb on the words after its name; returns the process exit code (0 ok, 1 failure, 2 usage).
  // Results go to stdout, diagnostics to stderr.
  std::function<int(const std::vector<std::string>& args)> run;
};

// Verb groups; each is defined in its own file under tools/.
void AddAdminVerbs(std::vector<Verb>* verbs);    // tools/admin/
void AddOfflineVerbs(std::vector<Verb>* verbs);  // tools/offline/
void AddSiteVerbs(std::vector<Verb>* verbs);     // tools/site/

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_CLI_VERB_H_
