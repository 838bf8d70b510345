#include "common/labels/pattern_library.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace fedlog::labels {
namespace {

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

absl::Status RuleError(const YAML::Node& node, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", node.Mark().line + 1, ": ", what));
}

// Converts one YAML mapping into a rule. yaml-cpp throws on type mismatches; the caller catches.
absl::StatusOr<PatternRule> RuleFromYaml(const YAML::Node& node) {
  if (!node.IsMap()) return RuleError(node, "each pattern must be a mapping");
  static const absl::flat_hash_set<std::string> kKeys = {"name",  "anomaly_type",   "keywords",
                                                         "regex", "case_sensitive", "description"};
  PatternRule rule;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (!kKeys.contains(key)) return RuleError(kv.first, absl::StrCat("unknown key \"", key, "\""));
  }
  if (node["name"]) rule.name = node["name"].as<std::string>();
  if (node["anomaly_type"]) rule.anomaly_type = node["anomaly_type"].as<std::string>();
  if (node["regex"]) rule.regex = node["regex"].as<std::string>();
  if (node["description"]) rule.description = node["description"].as<std::string>();
  if (node["case_sensitive"]) rule.case_sensitive = node["case_sensitive"].as<bool>();
  if (const YAML::Node kw = node["keywords"]; kw) {
    if (!kw.IsSequence()) return RuleError(kw, "keywords must be a list");
    for (const auto& k : kw) rule.keywords.push_back(k.as<std::string>());
  }
  return rule;
}

absl::StatusOr<std::vector<PatternRule>> RulesFromYaml(absl::string_view yaml) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    const YAML::Node patterns = root.IsMap() ? root["patterns"] : YAML::Node();
    if (!patterns || !patterns.IsSequence()) {
      return absl::InvalidArgumentError("expected a top-level \"patterns:\" list");
    }
    std::vector<PatternRule> rules;
    for (const auto& node : patterns) {
      absl::StatusOr<PatternRule> rule = RuleFromYaml(node);
      if (!rule.ok()) return rule.status();
      rules.push_back(*std::move(rule));
    }
    return rules;
  } catch (const YAML::Exception& e) {
    // yaml-cpp is the one adapter here that throws; its mark carries the 0-based line.
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ": ", e.msg));
  }
}

absl::Status ValidateRule(const PatternRule& rule, absl::flat_hash_set<std::string>& names) {
  if (!ValidName(rule.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rule name \"", rule.name, "\" must be non-empty [A-Za-z0-9_.-]"));
  }
  if (!names.insert(rule.name).second) {
    return absl::InvalidArgumentError(absl::StrCat("rule \"", rule.name, "\" defined twice"));
  }
  if (rule.anomaly_type.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("rule \"", rule.name, "\" has no anomaly_type"));
  }
  if (rule.keywords.empty() && rule.regex.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rule \"", rule.name, "\" needs keywords or a regex"));
  }
  for (const std::string& k : rule.keywords) {
    if (k.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rule \"", rule.name, "\" has an empty keyword"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

PatternLibrary::PatternLibrary(PatternLibrary&&) noexcept = default;
PatternLibrary& PatternLibrary::operator=(PatternLibrary&&) noexcept = default;
PatternLibrary::~PatternLibrary() = default;

absl::StatusOr<PatternLibrary> PatternLibrary::FromRules(std::vector<PatternRule> rules) {
  PatternLibrary lib;
  absl::flat_hash_set<std::string> names;
  for (const PatternRule& rule : rules) {
    FEDLOG_RETURN_IF_ERROR(ValidateRule(rule, names));
    std::vector<std::string> lowered;
    for (const std::string& k : rule.keywords) lowered.push_back(absl::AsciiStrToLower(k));
    lib.lowered_keywords_.push_back(std::move(lowered));
    std::unique_ptr<const re2::RE2> re;
    if (!rule.regex.empty()) {
      RE2::Options options;
      options.set_case_sensitive(rule.case_sensitive);
      options.set_log_errors(false);
      re = std::make_unique<const re2::RE2>(rule.regex, options);
      if (!re->ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("rule \"", rule.name, "\": bad regex: ", re->error()));
      }
    }
    lib.regexes_.push_back(std::move(re));
  }
  lib.rules_ = std::move(rules);
  return lib;
}

absl::StatusOr<PatternLibrary> PatternLibrary::FromYaml(absl::string_view yaml) {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<PatternRule> rules, RulesFromYaml(yaml));
  return FromRules(std::move(rules));
}

absl::StatusOr<PatternLibrary> PatternLibrary::FromFile(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string yaml, ReadFile(path));
  absl::StatusOr<PatternLibrary> lib = FromYaml(yaml);
  if (!lib.ok()) return Annotate(lib.status(), path);
  return lib;
}

bool PatternLibrary::Matches(size_t i, absl::string_view text, absl::string_view lowered) const {
  const PatternRule& rule = rules_[i];
  for (size_t k = 0; k < rule.keywords.size(); ++k) {
    if (rule.case_sensitive ? absl::StrContains(text, rule.keywords[k])
                            : absl::StrContains(lowered, lowered_keywords_[i][k])) {
      return true;
    }
  }
  return regexes_[i] != nullptr &&
         RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *regexes_[i]);
}

std::optional<RuleMatch> PatternLibrary::FirstMatch(absl::string_view text) const {
  const std::string lowered = absl::AsciiStrToLower(text);
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (Matches(i, text, lowered)) return RuleMatch{rules_[i].name, rules_[i].anomaly_type};
  }
  return std::nullopt;
}

std::vector<RuleMatch> PatternLibrary::AllMatches(absl::string_view text) const {
  const std::string lowered = absl::AsciiStrToLower(text);
  std::vector<RuleMatch> out;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (Matches(i, text, lowered)) out.push_back(RuleMatch{rules_[i].name, rules_[i].anomaly_type});
  }
  return out;
}

}  // namespace fedlog::labels
