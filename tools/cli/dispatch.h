// Finding the verb a `fedlog` command line names (tools/main.cc): the longest matching verb name ("run start"
// before "run"), or an error that says what was wrong. A word that names no verb, a verb group without its
// subcommand ("fedlog run") and an unknown subcommand ("fedlog run strat", "fedlog sites revok site-b") are
// refused with the subcommands the group has and the nearest name, so a typo never runs another verb.
// Stateless and thread-safe.
#ifndef FEDLOG_TOOLS_CLI_DISPATCH_H_
#define FEDLOG_TOOLS_CLI_DISPATCH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {

struct FoundVerb {
  const Verb* verb = nullptr;  // points into the `verbs` given to FindVerb
  size_t words = 0;            // how many leading words its name took
};

// The verb `words` (the command line after `fedlog`, not empty) names. InvalidArgument, with a message for the
// user that does not start with "fedlog:", when it names none.
absl::StatusOr<FoundVerb> FindVerb(const std::vector<Verb>& verbs, const std::vector<std::string>& words);

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_CLI_DISPATCH_H_
