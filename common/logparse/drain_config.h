// Per-source Drain settings from a small INI-style file, so tuned settings live in a reviewed file rather than
// in code. Example:
//
//   # applies to every source
//   [default]
//   depth = 4
//   sim_threshold = 0.5
//   [Proxifier]
//   sim_threshold = 0.6
//   extra_delimiters = ,
//   regex = <\d+\ssec => <*>       # RE2 pattern, optional "=> REPLACEMENT" (default <*>); repeatable
//
// Keys: depth, sim_threshold, max_children, max_clusters, extra_delimiters, masks (ParseMaskList), regex,
// parametrize_numeric_tokens, merge_equivalent_templates, short_template_max_tokens, strict_words,
// sibling_merge_min. Section names are matched
// case-insensitively. Thread-safe after Parse (const only).
#ifndef FEDLOG_COMMON_LOGPARSE_DRAIN_CONFIG_H_
#define FEDLOG_COMMON_LOGPARSE_DRAIN_CONFIG_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logparse/drain.h"

namespace fedlog::logparse {

class DrainConfig {
 public:
  // InvalidArgument naming the line for unknown keys, bad numbers or a key outside a section.
  static absl::StatusOr<DrainConfig> Parse(std::string_view text);
  static absl::StatusOr<DrainConfig> LoadFile(const std::string& path);

  // DrainOptions{} overlaid with [default], then with the source's section.
  absl::StatusOr<DrainOptions> ForSource(std::string_view source) const;

 private:
  // section (lower-case) -> (key, value, line number) in file order
  std::map<std::string, std::vector<std::pair<std::string, std::pair<std::string, int>>>> sections_;
};

// Applies one `key = value` setting to `options`.
absl::Status ApplyDrainSetting(std::string_view key, std::string_view value, DrainOptions* options);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_DRAIN_CONFIG_H_
