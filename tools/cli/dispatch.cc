#include "tools/cli/dispatch.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/suggest.h"

namespace fedlog::cli {
namespace {

// The second words of the two-word verbs whose first word is `group` ("run" -> start, watch, status, stop).
std::vector<std::string> Subcommands(const std::vector<Verb>& verbs, const std::string& group) {
  std::vector<std::string> subs;
  const std::string prefix = group + " ";
  for (const Verb& v : verbs) {
    if (absl::StartsWith(v.name, prefix)) subs.push_back(v.name.substr(prefix.size()));
  }
  return subs;
}

// The error for `group` followed by `word`, which is none of its subcommands ("" when none was given).
absl::Status UnknownSubcommand(const std::vector<Verb>& verbs, const std::string& group, const std::string& word,
                               bool group_is_verb) {
  const std::vector<std::string> subs = Subcommands(verbs, group);
  const std::string list = absl::StrJoin(subs, ", ");
  if (word.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", group, "' needs a subcommand: ", list, " (`fedlog ", group,
                                                   " ", subs.front(), " --help` shows one's options)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", group, "' has no subcommand '", word, "'", DidYouMean(word, subs), "; its subcommands: ", list,
      group_is_verb ? absl::StrCat("; `fedlog ", group, "` itself takes options only") : ""));
}

}  // namespace

absl::StatusOr<FoundVerb> FindVerb(const std::vector<Verb>& verbs, const std::vector<std::string>& words) {
  if (words.empty()) return absl::InvalidArgumentError("no verb given");
  for (size_t n : {size_t{2}, size_t{1}}) {
    if (words.size() < n) continue;
    const std::string name = n == 2 ? words[0] + " " + words[1] : words[0];
    for (const Verb& v : verbs) {
      if (v.name != name) continue;
      // A group verb ("sites", "models") followed by a word that is not an option: a mistyped subcommand,
      // which must not run the group verb itself (it would list instead of revoking).
      if (n == 1 && words.size() >= 2 && !absl::StartsWith(words[1], "-") && !Subcommands(verbs, name).empty()) {
        return UnknownSubcommand(verbs, name, words[1], /*group_is_verb=*/true);
      }
      return FoundVerb{&v, n};
    }
  }
  if (!Subcommands(verbs, words[0]).empty()) {
    const bool has_word = words.size() >= 2 && !absl::StartsWith(words[1], "-");
    return UnknownSubcommand(verbs, words[0], has_word ? words[1] : "", /*group_is_verb=*/false);
  }
  std::vector<std::string> firsts;
  for (const Verb& v : verbs) {
    std::string first = v.name.substr(0, v.name.find(' '));
    if (std::find(firsts.begin(), firsts.end(), first) == firsts.end()) firsts.push_back(first);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown verb '", words[0], "'", DidYouMean(words[0], firsts),
                                                 "; `fedlog help` lists every verb"));
}

}  // namespace fedlog::cli
