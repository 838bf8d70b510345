// The flags of `fedlog eval newsite --federated` (NewsiteFederatedOptions), read in the torch-free
// verb; the arm itself is eval_newsite_federated.cc.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "tools/cli/args.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

// `--name` as an int in [lo, hi] into `*value` (unchanged when absent).
absl::Status IntFlag(const cli::Args& args, const std::string& name, int lo, int hi, int* value) {
  FEDLOG_ASSIGN_OR_RETURN(int64_t v, args.GetInt(name, *value));
  if (v < lo || v > hi) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be in [", lo, ", ", hi, "]"));
  }
  *value = static_cast<int>(v);
  return absl::OkStatus();
}

// `--name` as a comma list of values in [0, 1] into `*values` (unchanged when absent).
absl::Status UnitListFlag(const cli::Args& args, const std::string& name, std::vector<double>* values) {
  if (!args.Has(name)) return absl::OkStatus();
  values->clear();
  for (absl::string_view part : absl::StrSplit(args.Get(name), ',', absl::SkipEmpty())) {
    double v = -1;
    if (!absl::SimpleAtod(part, &v) || !(v >= 0 && v <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": a comma list of values in [0, 1]"));
    }
    values->push_back(v);
  }
  if (values->empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": no value"));
  return absl::OkStatus();
}

// --fed-kind-alarm-budget, --fed-kind-alarm-exempt-sites, --fed-kind-alarm-budgets, --fed-kind-alarm-mass (the
// new site's kinds::AlarmBudget); all need --fed-sibling, --fed-kind-alarm-budgets --fed-kind-trust-rows.
absl::Status ParseAlarmBudgetArgs(const cli::Args& args, NewsiteFederatedOptions* o) {
  NewsiteFederatedOptions::KindTrust& t = o->kind_trust;
  for (const char* flag : {"fed-kind-alarm-budget", "fed-kind-alarm-exempt-sites", "fed-kind-alarm-budgets",
                           "fed-kind-alarm-mass"}) {
    if (args.Has(flag) && !o->sibling) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs --fed-sibling"));
    }
  }
  if (args.Has("fed-kind-alarm-budget")) {
    double v = -1;
    if (!absl::SimpleAtod(args.Get("fed-kind-alarm-budget"), &v) || !(v >= 0 && v <= 1)) {
      return absl::InvalidArgumentError("--fed-kind-alarm-budget must be in [0, 1] (0 = off)");
    }
    t.alarm_budget = v;
  }
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-kind-alarm-exempt-sites", 0, 8, &t.exempt_sites));
  FEDLOG_RETURN_IF_ERROR(UnitListFlag(args, "fed-kind-alarm-budgets", &t.budget_rows));
  if (!t.budget_rows.empty() && !t.rows) {
    return absl::InvalidArgumentError("--fed-kind-alarm-budgets needs --fed-kind-trust-rows");
  }
  if (args.Has("fed-kind-alarm-mass")) {
    const std::string name = args.Get("fed-kind-alarm-mass");
    absl::StatusOr<kinds::AlarmBudgetMass> mass = kinds::ParseAlarmBudgetMass(name);
    if (name.empty() || !mass.ok()) return absl::InvalidArgumentError("--fed-kind-alarm-mass must be all or quiet");
    t.mass = *mass;
  }
  return kinds::AlarmBudgetOptions{t.alarm_budget, t.exempt_sites, t.mass}.Validate();
}

// --fed-kind-defence, --fed-kind-silence-sites, --fed-kind-alarm-sites, --fed-siblings, --fed-liar,
// --fed-kind-trust-rows (NewsiteFederatedOptions::KindTrust); all need --fed-sibling.
absl::Status ParseKindTrustArgs(const cli::Args& args, NewsiteFederatedOptions* o) {
  NewsiteFederatedOptions::KindTrust& t = o->kind_trust;
  for (const char* flag : {"fed-kind-defence", "fed-kind-silence-sites", "fed-kind-alarm-sites", "fed-siblings",
                           "fed-liar", "fed-kind-trust-rows"}) {
    if (args.Has(flag) && !o->sibling) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs --fed-sibling"));
    }
  }
  const std::string defence = args.Get("fed-kind-defence", "on");
  if (defence != "on" && defence != "off") return absl::InvalidArgumentError("--fed-kind-defence must be on or off");
  t.defence = defence == "on";
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-kind-silence-sites", 1, 8, &t.silence_sites));
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-kind-alarm-sites", 1, 8, &t.alarm_sites));
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-siblings", 1, 2, &t.siblings));
  t.liar = args.Get("fed-liar", "none");
  if (t.liar != "none" && t.liar != "invert" && t.liar != "silence" && t.liar != "alarm") {
    return absl::InvalidArgumentError("--fed-liar must be none, invert, silence or alarm");
  }
  t.rows = args.Has("fed-kind-trust-rows");
  return ParseAlarmBudgetArgs(args, o);
}

}  // namespace

absl::Status ParseNewsiteFederatedArgs(const cli::Args& args, NewsiteFederatedOptions* o) {
  o->enabled = args.Has("federated");
  o->sibling = args.Has("fed-sibling");
  if (o->sibling && !o->enabled) return absl::InvalidArgumentError("--fed-sibling needs --federated");
  if (args.Has("fed-systems")) {
    o->systems = absl::StrSplit(args.Get("fed-systems"), ',', absl::SkipEmpty());
    for (const std::string& s : o->systems) {
      if (s != "bgl2k" && s != "bgl" && s != "hdfs" && s != "hadoop") {
        return absl::InvalidArgumentError(
            absl::StrCat("--fed-systems: '", s, "' is not one of bgl2k, bgl, hdfs, hadoop"));
      }
    }
  }
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-rounds", 1, 100, &o->rounds));
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-steps", 0, 10000, &o->contrastive_steps));
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-meta", 0, 10000, &o->meta_iterations));
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-max-lines", 100, 1000000, &o->max_train_lines));
  int fed_seed = static_cast<int>(o->seed);
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-seed", 0, 1000000, &fed_seed));
  o->seed = static_cast<uint64_t>(fed_seed);
  FEDLOG_RETURN_IF_ERROR(UnitListFlag(args, "fed-match-quantile", &o->match_quantiles));
  FEDLOG_RETURN_IF_ERROR(UnitListFlag(args, "fed-prior-weight", &o->prior_weights));
  FEDLOG_RETURN_IF_ERROR(UnitListFlag(args, "encoder-weight", &o->encoder_weights));
  FEDLOG_RETURN_IF_ERROR(UnitListFlag(args, "choice-margin", &o->choice_margins));
  if (args.Has("choice-compare")) {
    absl::StatusOr<fewshot::CompareUnits> c = fewshot::ParseCompareUnits(args.Get("choice-compare"));
    if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat("--choice-compare: ", c.status().message()));
    o->choice_compare = *c;
  }
  if (args.Has("fed-jaccard-weight")) {
    double w = -1;
    if (!absl::SimpleAtod(args.Get("fed-jaccard-weight"), &w) || !(w >= 0 && w <= 100)) {
      return absl::InvalidArgumentError("--fed-jaccard-weight must be in [0, 100]");
    }
    o->jaccard_weight = static_cast<float>(w);
  }
  FEDLOG_RETURN_IF_ERROR(IntFlag(args, "fed-kind-labels", 0, 100000000, &o->kind_labels));
  if (o->kind_labels > 0 && !o->sibling) return absl::InvalidArgumentError("--fed-kind-labels needs --fed-sibling");
  FEDLOG_RETURN_IF_ERROR(ParseKindTrustArgs(args, o));
  return IntFlag(args, "threads", 1, 64, &o->threads);
}

bool WantsFederatedArm(const NewsiteFederatedOptions& o, const std::string& system) {
  return o.enabled && std::find(o.systems.begin(), o.systems.end(), system) != o.systems.end();
}

}  // namespace fedlog::offline
