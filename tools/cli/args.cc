#include "tools/cli/args.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/base/suggest.h"

namespace fedlog::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv, const ArgSpec& spec) {
  Args args;
  bool only_positionals = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positionals || !absl::StartsWith(a, "--") || a.size() == 2) {
      if (a == "--" && !only_positionals) {
        only_positionals = true;
        continue;
      }
      args.positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    if (spec.flags.count(name)) {
      if (has_inline) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      args.values_.emplace(name, "true");
    } else if (spec.options.count(name)) {
      if (!has_inline) {
        if (i + 1 >= argv.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        value = argv[++i];
      }
      args.values_.emplace(name, value);
    } else {
      std::vector<std::string> known(spec.options.begin(), spec.options.end());
      known.insert(known.end(), spec.flags.begin(), spec.flags.end());
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", name, DidYouMean(name, known, "--")));
    }
  }
  return args;
}

bool Args::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return fallback;
  return std::prev(range.second)->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t fallback) const {
  if (!Has(name)) return fallback;
  int64_t v;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be an integer, got '", Get(name), "'"));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name, double fallback) const {
  if (!Has(name)) return fallback;
  double v;
  if (!absl::SimpleAtod(Get(name), &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be a finite number, got '", Get(name), "'"));
  }
  return v;
}

absl::Status Args::ReadDoubles(Targets<double> targets) const {
  for (const auto& [name, target] : targets) {
    auto v = GetDouble(name, *target);
    if (!v.ok()) return v.status();
    *target = *v;
  }
  return absl::OkStatus();
}

absl::Status Args::ReadInts(Targets<int64_t> targets) const {
  for (const auto& [name, target] : targets) {
    auto v = GetInt(name, *target);
    if (!v.ok()) return v.status();
    *target = *v;
  }
  return absl::OkStatus();
}

absl::Status Args::ReadSwitches(Targets<bool> targets) const {
  for (const auto& [name, target] : targets) {
    auto v = GetInt(name, *target ? 1 : 0);
    if (!v.ok()) return v.status();
    *target = *v != 0;
  }
  return absl::OkStatus();
}

}  // namespace fedlog::cli
