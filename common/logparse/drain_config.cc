#include "common/logparse/drain_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::logparse {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::StatusOr<bool> ParseBool(absl::string_view v) {
  std::string l = absl::AsciiStrToLower(v);
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return absl::InvalidArgumentError(absl::StrCat("not a boolean: '", v, "'"));
}

absl::StatusOr<int> ParseInt(absl::string_view v) {
  int x = 0;
  if (!absl::SimpleAtoi(v, &x)) return absl::InvalidArgumentError(absl::StrCat("not an integer: '", v, "'"));
  return x;
}

}  // namespace

absl::Status ApplyDrainSetting(std::string_view key_in, std::string_view value_in, DrainOptions* o) {
  const absl::string_view key = Av(key_in), v = Av(value_in);
  if (key == "depth") {
    FEDLOG_ASSIGN_OR_RETURN(o->depth, ParseInt(v));
  } else if (key == "sim_threshold") {
    if (!absl::SimpleAtod(v, &o->sim_threshold)) return absl::InvalidArgumentError("sim_threshold: not a number");
  } else if (key == "max_children") {
    FEDLOG_ASSIGN_OR_RETURN(o->max_children, ParseInt(v));
  } else if (key == "max_clusters") {
    FEDLOG_ASSIGN_OR_RETURN(o->max_clusters, ParseInt(v));
  } else if (key == "short_template_max_tokens") {
    FEDLOG_ASSIGN_OR_RETURN(o->short_template_max_tokens, ParseInt(v));
  } else if (key == "extra_delimiters") {
    o->extra_delimiters = std::string(v);
  } else if (key == "masks") {
    FEDLOG_ASSIGN_OR_RETURN(o->masks, ParseMaskList(value_in));
  } else if (key == "parametrize_numeric_tokens") {
    FEDLOG_ASSIGN_OR_RETURN(o->parametrize_numeric_tokens, ParseBool(v));
  } else if (key == "merge_equivalent_templates") {
    FEDLOG_ASSIGN_OR_RETURN(o->merge_equivalent_templates, ParseBool(v));
  } else if (key == "quoted_values") {
    FEDLOG_ASSIGN_OR_RETURN(o->quoted_values, ParseBool(v));
  } else if (key == "mask_dotted_names") {
    FEDLOG_ASSIGN_OR_RETURN(o->mask_dotted_names, ParseBool(v));
  } else if (key == "collapse_parameter_runs") {
    FEDLOG_ASSIGN_OR_RETURN(o->collapse_parameter_runs, ParseBool(v));
  } else if (key == "literal_skeleton_merge") {
    FEDLOG_ASSIGN_OR_RETURN(o->literal_skeleton_merge, ParseBool(v));
  } else if (key == "merge_subsumed_templates") {
    FEDLOG_ASSIGN_OR_RETURN(o->merge_subsumed_templates, ParseBool(v));
  } else if (key == "strict_words") {
    FEDLOG_ASSIGN_OR_RETURN(o->strict_words, ParseBool(v));
  } else if (key == "sibling_merge_min") {
    FEDLOG_ASSIGN_OR_RETURN(o->sibling_merge_min, ParseInt(v));
  } else if (key == "regex") {
    RegexMask m;
    if (v.size() >= 3 && v.substr(v.size() - 3) == " =>") {  // "PATTERN =>": delete the match
      o->regex_masks.push_back({std::string(absl::StripAsciiWhitespace(v.substr(0, v.size() - 3))), ""});
      return absl::OkStatus();
    }
    size_t arrow = v.rfind(" => ");
    m.pattern = std::string(arrow == absl::string_view::npos ? v : v.substr(0, arrow));
    if (arrow != absl::string_view::npos) m.replacement = std::string(v.substr(arrow + 4));
    o->regex_masks.push_back(std::move(m));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown drain setting '", key, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DrainConfig> DrainConfig::Parse(std::string_view text) {
  DrainConfig cfg;
  std::string section;
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(Av(text), '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = absl::AsciiStrToLower(line.substr(1, line.size() - 2));
      cfg.sections_[section];
      continue;
    }
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos || section.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("drain config line ", line_no, ": expected key = value in a [section]"));
    }
    std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    // A value keeps inner spaces; " #" starts a comment, except inside regexes where '#' may be meant.
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key != "regex") {
      size_t hash = value.find(" #");
      if (hash != absl::string_view::npos) value = absl::StripAsciiWhitespace(value.substr(0, hash));
    }
    DrainOptions probe;
    if (absl::Status s = ApplyDrainSetting(key, std::string_view(value.data(), value.size()), &probe); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("drain config line ", line_no, ": ", s.message()));
    }
    cfg.sections_[section].push_back({key, {std::string(value), line_no}});
  }
  return cfg;
}

absl::StatusOr<DrainConfig> DrainConfig::LoadFile(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<DrainConfig> cfg = Parse(text);
  if (!cfg.ok()) return Annotate(cfg.status(), path);
  return cfg;
}

absl::StatusOr<DrainOptions> DrainConfig::ForSource(std::string_view source) const {
  DrainOptions o;
  for (const std::string& name : {std::string("default"), absl::AsciiStrToLower(Av(source))}) {
    auto it = sections_.find(name);
    if (it == sections_.end()) continue;
    for (const auto& [key, value] : it->second) FEDLOG_RETURN_IF_ERROR(ApplyDrainSetting(key, value.first, &o));
  }
  return o;
}

}  // namespace fedlog::logparse
