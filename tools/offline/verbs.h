// Entry points of the offline verbs; each takes the words after the verb name and returns the exit code
// (0 ok, 1 failure, 2 usage). Results go to stdout or files, diagnostics to stderr.
#ifndef FEDLOG_TOOLS_OFFLINE_VERBS_H_
#define FEDLOG_TOOLS_OFFLINE_VERBS_H_

#include <string>
#include <vector>

namespace fedlog::offline {

int RunParse(const std::vector<std::string>& args);
int RunEvalParsing(const std::vector<std::string>& args);
int RunSynth(const std::vector<std::string>& args);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_VERBS_H_
