// What the user probably meant when a verb, subcommand, option or config key is unknown: the nearest known name
// by edit distance (a swapped pair of letters counts as one edit), so `fedlog run strat`, `--rouns` and a
// site.yaml's `detect.source` can say "did you mean ...". Stateless and thread-safe.
#ifndef FEDLOG_COMMON_BASE_SUGGEST_H_
#define FEDLOG_COMMON_BASE_SUGGEST_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fedlog {

// The name in `names` nearest to `word`, when it is within a third of `word`'s length (at least one edit, at
// most two) and no other name is as near; else "". Case-sensitive, as the CLI and the config keys are.
std::string ClosestName(absl::string_view word, const std::vector<std::string>& names);

// " (did you mean 'X'?)" for ClosestName's answer with `prefix` before it (e.g. "--"), or "" when there is none.
std::string DidYouMean(absl::string_view word, const std::vector<std::string>& names,
                       absl::string_view prefix = "");

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_SUGGEST_H_
