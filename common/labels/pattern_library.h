// A library of labelling rules loaded from YAML (deploy/config/label-patterns.yaml is the default):
//
//   patterns:
//     - name: ssh_auth_failure            # unique; [A-Za-z0-9_.-]+; shows up as provenance
//     "rule:<name>"
//       anomaly_type: security_anomaly    # required
//       keywords: ["failed password", "invalid user"]   # substring match, any keyword suffices
//       regex: 'authentication failure;.*user=\S+'      # RE2 syntax, partial match
//       case_sensitive: false             # default false; applies to keywords and regex
//       description: free text            # optional
//
// A rule needs keywords, a regex or both, and matches when any of them does. Unknown keys are
// errors (they are nearly always typos that would silently disable a rule). Rules are tried in file
// order; FirstMatch returns the earliest, so put specific rules before general ones. Thread-safety:
// immutable after construction; const methods are safe to call concurrently.
#ifndef FEDLOG_COMMON_LABELS_PATTERN_LIBRARY_H_
#define FEDLOG_COMMON_LABELS_PATTERN_LIBRARY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace fedlog::labels {

struct PatternRule {
  std::string name;
  std::string anomaly_type;
  std::vector<std::string> keywords;
  std::string regex;  // empty: no regex
  bool case_sensitive = false;
  std::string description;
};

struct RuleMatch {
  std::string rule;
  std::string anomaly_type;
  bool operator==(const RuleMatch&) const = default;
};

class PatternLibrary {
 public:
  // InvalidArgument naming the rule (and YAML line) for malformed YAML, a missing field, a
  // duplicate or invalid name, an unknown key, a rule without keywords and regex, or a regex RE2
  // rejects.
  static absl::StatusOr<PatternLibrary> FromYaml(absl::string_view yaml);
  // As FromYaml; NotFound when the file is missing. Messages are prefixed with the path.
  static absl::StatusOr<PatternLibrary> FromFile(const std::string& path);
  static absl::StatusOr<PatternLibrary> FromRules(std::vector<PatternRule> rules);

  PatternLibrary(PatternLibrary&&) noexcept;
  PatternLibrary& operator=(PatternLibrary&&) noexcept;
  ~PatternLibrary();

  const std::vector<PatternRule>& rules() const { return rules_; }

  // The first rule, in library order, that matches `text`; nullopt when none does.
  std::optional<RuleMatch> FirstMatch(absl::string_view text) const;
  // Every matching rule, in library order.
  std::vector<RuleMatch> AllMatches(absl::string_view text) const;

 private:
  PatternLibrary() = default;
  bool Matches(size_t rule, absl::string_view text, absl::string_view lowered) const;

  std::vector<PatternRule> rules_;
  std::vector<std::vector<std::string>> lowered_keywords_;  // per rule, for case-insensitive rules
  std::vector<std::unique_ptr<const re2::RE2>> regexes_;    // per rule; null when it has none
};

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_PATTERN_LIBRARY_H_
