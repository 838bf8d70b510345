// A small argument parser for the `fedlog` CLI verbs: `--name value`, `--name=value`, boolean `--flag`, and
// positionals. Unknown options are an error, so a typo never silently falls back to a default.
// Thread-compatible.
#ifndef FEDLOG_TOOLS_CLI_ARGS_H_
#define FEDLOG_TOOLS_CLI_ARGS_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::cli {

struct ArgSpec {
  std::set<std::string> options;  // take a value, e.g. "rounds" for --rounds N
  std::set<std::string> flags;    // boolean, e.g. "json" for --json
};

class Args {
 public:
  // Parses `argv` (the words after the verb) against `spec`.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv, const ArgSpec& spec);

  bool Has(const std::string& name) const;  // option given or flag set
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // The last value of a repeated option and all its values.
  std::vector<std::string> GetAll(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;

  // Option tables: each given option is read into its target, an absent one leaves its target as it was
  // (the default). The first malformed value is an InvalidArgument naming its option; targets before it
  // are already written. Ranges are the caller's to check (usually the options struct's Validate()).
  template <typename T>
  using Targets = std::initializer_list<std::pair<const char*, T*>>;
  absl::Status ReadDoubles(Targets<double> targets) const;
  absl::Status ReadInts(Targets<int64_t> targets) const;
  // `--name N` with N an integer: nonzero is true (the 0/1 switches of the eval verbs).
  absl::Status ReadSwitches(Targets<bool> targets) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_CLI_ARGS_H_
