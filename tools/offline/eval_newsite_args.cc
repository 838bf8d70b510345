// `fedlog eval newsite`'s command line: the usage text, the flags it accepts and their parsing into
// NewsiteOptions (tools/offline/eval_newsite.h), with every value range-checked. Split from
// eval_newsite_verb.cc, which runs the evaluation; the federated arm's flags are parsed by
// eval_newsite_federated_options.cc. New flags go at the END of the usage string and of the flag lists,
// on lines of their own (several branches add flags here at once).
#include <array>
#include <cstdlib>
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

constexpr char kUsage[] =
    "usage: fedlog eval newsite --out DIR [--data DIR] [--systems bgl2k,bgl,hdfs,hadoop] [--budget R] "
    "[--max-alert-rate R] [--shots 5,10,30] [--seeds N] [--seed S] [--label-part F] [--pool-blocks N] "
    "[--pool-tune] [--strategy random|active|both] [--active-coverage W] [--active-margin-share S] "
    "[--match J] [--label-prior N] [--lower-prior N] [--both-near-margin M] [--session-normal-match J] "
    "[--session-lookup-match J] [--session-kind-rule off|silence|raise|exact] [--severity-prior P] "
    "[--within-level B] [--recurrence-weight W] [--report-weight W] [--fixed-weight W] [--hold-lines N] "
    "[--split-valley 0|1] [--max-cluster-share S] [--threshold-rule compact|valley] [--cluster-width W] "
    "[--path-weight W] [--quiet-weight W] [--reports-adapt 0|1] [--rest-budget S] [--rank-window N] "
    "[--weights template=W,severity=W,burst=W,source=W,param=W,sequence=W] "
    "[--session-weights invariant=W,signature=W,template=W,sequence=W,param=W,severity=W,rare=W] [--dump] "
    "[--ceiling] [--session-group shape|kinds] [--keep-broken] [--session-groups-only] "
    "[--session-alert-weight W] [--test-end F] [--session-quiet-ms MS] [--session-incomplete-quiet-ms MS] "
    "[--session-incomplete-share S] [--verdict-silences-broken] [--federated [--fed-systems bgl,hdfs] "
    "[--fed-rounds N] [--fed-steps S] [--fed-meta M] [--fed-max-lines N] [--fed-seed S] "
    "[--fed-match-quantile Q[,Q...]] [--fed-jaccard-weight W] [--fed-prior-weight W[,W...]] "
    "[--encoder-weight W[,W...]] [--threads T]] "
    "[--field-report-weight W] "
    "[--path-repeat-weight W] "
    "[--active-ramp L] "
    "[--active-mean-uncertainty S] "
    "[--keep-alert-match J]\n"
    "  [--choice-margin M[,M...]] (with --federated)\n"
    "  [--budget-window N]\n"
    "  [--fed-sibling] (with --federated: one more federation site runs the new site's system)\n"
    "  [--choice-compare templates|lines] (with --federated)\n"
    "  [--active-neighbour-match J] [--active-diversity J]\n"
    "  [--session-label-cut midpoint|agree|nearest]\n"
    "  [--recurrence-age-lines N]\n"
    "  [--fed-kind-labels N] (with --fed-sibling: the sibling's kind sketch from N of its labels; 0 = all)\n"
    "  [--fed-kind-defence on|off] [--fed-kind-silence-sites N] [--fed-kind-alarm-sites N] [--fed-siblings 1|2]\n"
    "  [--fed-liar none|invert|silence|alarm] [--fed-kind-trust-rows] (with --fed-sibling: who the kind sketch\n"
    "  comes from and how far it is trusted)\n"
    "  [--rest-interpolate 0|1]\n"
    "  [--reports-field-only 0|1]\n"
    "  [--refresh-on-rise 0|1] [--threshold-refresh-lines N]\n"
    "  [--active-size-weight W]\n"
    "  [--fed-kind-alarm-budget S] [--fed-kind-alarm-exempt-sites N] [--fed-kind-alarm-budgets S[,S...]]\n"
    "  (with --fed-sibling: the new site's alarm budget on anomalous kind verdicts; 0 = off)\n"
    "  [--fed-kind-alarm-mass all|quiet] (with --fed-sibling: what a kind weighs in that budget)\n"
    "  [--session-whole-unit off|on] (a session key's later pieces re-decide it as a whole)\n"
    "  [--session-union-score off|on] (at a key's later piece its union of pieces may withdraw its alert; default on)\n"
    "  [--pool-tune-fold 0|1] (with --pool-tune: 1 swaps the pool's label and measured halves)\n";

// Sessions with labels (eval_newsite_session_labels.cc): --session-group, --keep-broken,
// --session-groups-only (labels do not move the session threshold), --session-alert-weight and
// --test-end; how long a session waits (--session-quiet-ms) and an incomplete one
// (--session-incomplete-quiet-ms, 0: no wait); --verdict-silences-broken (session 10's group rule);
// --session-label-cut (where the labelled session threshold sits in its F1-best gap);
// --session-whole-unit (a key's later pieces re-decide it as a whole, fewshot::SessionWholeUnits);
// --session-union-score (the session detector judges a key's later pieces as its union,
// novelty::ShapeOptions::union_score).
absl::Status ParseSessionLabelArgs(const cli::Args& args, NewsiteOptions* o) {
  const std::string group = args.Get("session-group", "shape");
  if (group != "shape" && group != "kinds") {
    return absl::InvalidArgumentError("--session-group must be shape or kinds");
  }
  o->detector.session.group_by = group == "shape" ? novelty::GroupBy::kShape : novelty::GroupBy::kKinds;
  o->detector.session.keep_broken = args.Has("keep-broken");
  o->verdict_silences_broken = args.Has("verdict-silences-broken");
  o->detector.session.label_threshold = !args.Has("session-groups-only");
  novelty::ShapeOptions& shape = o->detector.session.shape;
  FEDLOG_RETURN_IF_ERROR(args.ReadDoubles({{"session-alert-weight", &o->session_alert_weight},
                                           {"test-end", &o->test_end},
                                           {"session-incomplete-share", &shape.incomplete_share}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadInts(
      {{"session-quiet-ms", &shape.quiet_ms}, {"session-incomplete-quiet-ms", &shape.incomplete_quiet_ms}}));
  if (args.Has("session-kind-rule")) {
    absl::StatusOr<fewshot::KindRule> rule = fewshot::ParseKindRule(args.Get("session-kind-rule"));
    if (!rule.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--session-kind-rule: ", rule.status().message()));
    }
    o->session_kind_rule = *rule;
  }
  if (args.Has("session-label-cut")) {
    absl::StatusOr<novelty::LabelCut> cut = novelty::ParseLabelCut(args.Get("session-label-cut"));
    if (!cut.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--session-label-cut: ", cut.status().message()));
    }
    o->detector.session.label_cut = *cut;
  }
  if (args.Has("session-whole-unit")) {
    const std::string whole = args.Get("session-whole-unit");
    if (whole != "off" && whole != "on") return absl::InvalidArgumentError("--session-whole-unit must be off or on");
    o->session_whole_unit = whole == "on";
  }
  if (args.Has("session-union-score")) {
    const std::string v = args.Get("session-union-score");
    if (v != "off" && v != "on") return absl::InvalidArgumentError("--session-union-score must be off or on");
    o->detector.session.shape.union_score = v == "on";
  }
  if (!(o->session_alert_weight >= 0)) return absl::InvalidArgumentError("--session-alert-weight must be >= 0");
  if (!(o->test_end > o->label_part && o->test_end <= 1)) {
    return absl::InvalidArgumentError("--test-end must be in (--label-part, 1]");
  }
  return absl::OkStatus();
}

// "name=W,name=W" into `weights`, whose i-th entry is the signal `name_of(i)` names;
// InvalidArgument naming `flag` and the bad item.
template <size_t N, typename NameOf>
absl::Status ParseNamedWeights(const std::string& spec, const char* flag, NameOf name_of,
                               std::array<double, N>* weights) {
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, '=');
    double w = 0;
    int signal = -1;
    for (int s = 0; s < static_cast<int>(N); ++s) {
      if (kv.size() == 2 && kv[0] == name_of(s)) signal = s;
    }
    if (signal < 0 || !absl::SimpleAtod(kv[1], &w)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": bad item '", std::string(item), "'"));
    }
    (*weights)[static_cast<size_t>(signal)] = w;
  }
  return absl::OkStatus();
}

// Flags into options; InvalidArgument naming the flag.
// The label-free line and session detector's settings (novelty::NoveltyOptions), validated.
absl::Status ParseLabelFreeArgs(const cli::Args& args, novelty::NoveltyOptions* detector) {
  novelty::NoveltyOptions& d = *detector;
  FEDLOG_RETURN_IF_ERROR(args.ReadDoubles({{"budget", &d.expected_alert_rate},
                                           {"max-alert-rate", &d.max_alert_rate},
                                           {"severity-prior", &d.severity_prior},
                                           {"max-cluster-share", &d.max_cluster_share},
                                           {"within-level", &d.within_level},
                                           {"recurrence-weight", &d.recurrence_weight},
                                           {"report-weight", &d.report_weight},
                                           {"fixed-weight", &d.fixed_weight},
                                           {"cluster-width", &d.cluster_width},
                                           {"path-weight", &d.path_weight},
                                           {"quiet-weight", &d.quiet_weight},
                                           {"rest-budget", &d.rest_budget},
                                           {"field-report-weight", &d.field_report_weight},
                                           {"path-repeat-weight", &d.path_repeat_weight}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadInts({{"hold-lines", &d.hold_lines}, {"rank-window", &d.rank_window}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadInts({{"budget-window", &d.budget_window}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadInts({{"recurrence-age-lines", &d.recurrence_age_lines}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadInts({{"threshold-refresh-lines", &d.threshold_refresh_lines}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadSwitches({{"refresh-on-rise", &d.refresh_on_rise}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadSwitches(
      {{"rest-interpolate", &d.rest_interpolate}, {"reports-field-only", &d.reports_field_only}}));
  FEDLOG_RETURN_IF_ERROR(
      args.ReadSwitches({{"split-valley", &d.split_valley_cluster}, {"reports-adapt", &d.reports_adapt}}));
  if (!novelty::ParseRule(args.Get("threshold-rule"), &d.threshold_rule)) {
    return absl::InvalidArgumentError("--threshold-rule must be compact or valley");
  }
  FEDLOG_RETURN_IF_ERROR(
      ParseNamedWeights(args.Get("weights"), "--weights", novelty::SignalName, &d.weights));
  FEDLOG_RETURN_IF_ERROR(ParseNamedWeights(args.Get("session-weights"), "--session-weights",
                                           novelty::SessionSignalName, &d.session.weights));
  FEDLOG_RETURN_IF_ERROR(d.Validate());
  return absl::OkStatus();
}

// The active line ranking's settings (--active-*) and the few-shot rule's keep radius, range-checked.
absl::Status ParseActiveArgs(const cli::Args& args, NewsiteOptions* o) {
  FEDLOG_RETURN_IF_ERROR(args.ReadDoubles({{"active-ramp", &o->active_opinion_ramp},
                                           {"active-mean-uncertainty", &o->active_mean_uncertainty},
                                           {"keep-alert-match", &o->fewshot.keep_alert_match}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadDoubles({{"active-neighbour-match", &o->active_neighbour_match},
                                           {"active-diversity", &o->active_diversity}}));
  FEDLOG_RETURN_IF_ERROR(args.ReadDoubles({{"active-size-weight", &o->active_size_weight}}));
  if (!(o->active_size_weight >= 0 && o->active_size_weight <= 100)) {
    return absl::InvalidArgumentError("--active-size-weight must be in [0, 100]");
  }
  if (!(o->active_neighbour_match >= 0 && o->active_neighbour_match <= 1)) {
    return absl::InvalidArgumentError("--active-neighbour-match must be in [0, 1]");
  }
  if (!(o->active_diversity >= 0 && o->active_diversity <= 1)) {
    return absl::InvalidArgumentError("--active-diversity must be in [0, 1]");
  }
  if (!(o->active_mean_uncertainty >= 0 && o->active_mean_uncertainty <= 1)) {
    return absl::InvalidArgumentError("--active-mean-uncertainty must be in [0, 1]");
  }
  if (!(o->active_opinion_ramp >= 0 && o->active_opinion_ramp <= 1000)) {
    return absl::InvalidArgumentError("--active-ramp must be in [0, 1000] (labels in hand)");
  }
  return absl::OkStatus();
}

absl::Status ParseNewsiteArgs(const cli::Args& args, NewsiteOptions* o) {
  o->out_dir = args.Get("out");
  const char* env = std::getenv("FEDLOG_DATA_DIR");
  o->data_dir = args.Get("data", env != nullptr && *env != '\0' ? env : "../shared/data");
  if (args.Has("systems")) o->systems = absl::StrSplit(args.Get("systems"), ',', absl::SkipEmpty());
  FEDLOG_RETURN_IF_ERROR(ParseLabelFreeArgs(args, &o->detector));
  if (args.Has("shots")) {
    o->shots.clear();
    for (absl::string_view k : absl::StrSplit(args.Get("shots"), ',', absl::SkipEmpty())) {
      int v = 0;
      if (!absl::SimpleAtoi(k, &v) || v < 1 || v > 1000) {
        return absl::InvalidArgumentError("--shots: labels per class, each in [1, 1000]");
      }
      o->shots.push_back(v);
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(int64_t seeds, args.GetInt("seeds", o->seeds));
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", static_cast<int64_t>(o->seed)));
  FEDLOG_RETURN_IF_ERROR(args.ReadDoubles({{"label-part", &o->label_part},
                                           {"match", &o->fewshot.match},
                                           {"label-prior", &o->fewshot.label_prior},
                                           {"lower-prior", &o->fewshot.lower_prior},
                                           {"both-near-margin", &o->fewshot.both_near_margin},
                                           {"session-normal-match", &o->session_normal_match},
                                           {"session-lookup-match", &o->session_lookup_match},
                                           {"active-coverage", &o->active_coverage_weight},
                                           {"active-margin-share", &o->active_margin_share}}));
  FEDLOG_RETURN_IF_ERROR(ParseActiveArgs(args, o));
  FEDLOG_ASSIGN_OR_RETURN(int64_t pool_blocks, args.GetInt("pool-blocks", o->pool_blocks));
  if (pool_blocks < 0 || pool_blocks > 1000) return absl::InvalidArgumentError("--pool-blocks must be in [0, 1000]");
  o->pool_blocks = static_cast<int>(pool_blocks);
  o->pool_tune = args.Has("pool-tune");
  FEDLOG_ASSIGN_OR_RETURN(int64_t fold, args.GetInt("pool-tune-fold", o->pool_tune_fold));
  if (fold != 0 && fold != 1) return absl::InvalidArgumentError("--pool-tune-fold must be 0 or 1");
  if (fold == 1 && !o->pool_tune) return absl::InvalidArgumentError("--pool-tune-fold 1 needs --pool-tune");
  o->pool_tune_fold = static_cast<int>(fold);
  if (!(o->session_lookup_match >= 0 && o->session_lookup_match <= 1)) {
    return absl::InvalidArgumentError("--session-lookup-match must be in [0, 1]");
  }
  FEDLOG_RETURN_IF_ERROR(o->fewshot.Validate());
  for (double v : {o->active_coverage_weight, o->active_margin_share}) {
    if (!(v >= 0 && v <= 1)) {
      return absl::InvalidArgumentError("--active-coverage and --active-margin-share must be in [0, 1]");
    }
  }
  if (!(o->session_normal_match >= 0 && o->session_normal_match <= 1)) {
    return absl::InvalidArgumentError("--session-normal-match must be in [0, 1]");
  }
  o->strategy = args.Get("strategy", o->strategy);
  o->ceiling = args.Has("ceiling");
  o->dump = args.Has("dump");
  if (seeds < 1 || seeds > 100) return absl::InvalidArgumentError("--seeds must be in [1, 100]");
  if (seed < 0) return absl::InvalidArgumentError("--seed must be >= 0");
  if (!(o->label_part > 0 && o->label_part < 1)) return absl::InvalidArgumentError("--label-part must be in (0, 1)");
  if (o->strategy != "random" && o->strategy != "active" && o->strategy != "both") {
    return absl::InvalidArgumentError("--strategy must be random, active or both");
  }
  o->seeds = static_cast<int>(seeds);
  o->seed = static_cast<uint64_t>(seed);
  FEDLOG_RETURN_IF_ERROR(ParseNewsiteFederatedArgs(args, &o->federated));
  FEDLOG_RETURN_IF_ERROR(ParseSessionLabelArgs(args, o));  // after --label-part
  return o->detector.Validate();
}

}  // namespace

const char* NewsiteUsage() { return kUsage; }

absl::Status ParseNewsiteCommandLine(const std::vector<std::string>& argv, NewsiteOptions* o) {
  FEDLOG_ASSIGN_OR_RETURN(
      cli::Args args,
      cli::Args::Parse(argv, {{"out", "data", "systems", "budget", "max-alert-rate", "weights", "session-weights",
              "severity-prior", "max-cluster-share", "within-level", "recurrence-weight", "report-weight",
              "fixed-weight", "hold-lines", "split-valley", "threshold-rule", "cluster-width", "path-weight",
              "quiet-weight", "reports-adapt", "rest-budget", "rank-window", "shots", "seeds", "seed", "label-part",
              "pool-blocks", "strategy", "active-coverage", "active-margin-share", "match", "label-prior",
              "lower-prior", "both-near-margin", "session-normal-match",
              "session-lookup-match", "fed-systems", "fed-rounds", "fed-steps", "fed-meta", "fed-max-lines",
              "fed-seed", "fed-match-quantile", "fed-jaccard-weight", "fed-prior-weight", "encoder-weight",
              "threads",
              "session-group", "session-alert-weight", "test-end", "session-quiet-ms", "session-incomplete-quiet-ms",
              "session-incomplete-share", "session-kind-rule",
              "field-report-weight",
              "path-repeat-weight",
              "active-ramp",
              "active-mean-uncertainty",
              "choice-margin",
              "budget-window",
              "keep-alert-match",
              "choice-compare",
              "active-neighbour-match",
              "active-diversity",
              "session-label-cut",
              "recurrence-age-lines",
              "fed-kind-labels",
              "fed-kind-defence",
              "fed-kind-silence-sites",
              "fed-kind-alarm-sites",
              "fed-siblings",
              "fed-liar",
              "rest-interpolate",
              "reports-field-only",
              "refresh-on-rise",
              "threshold-refresh-lines",
              "active-size-weight",
              "fed-kind-alarm-budget",
              "fed-kind-alarm-exempt-sites",
              "fed-kind-alarm-budgets",
              "fed-kind-alarm-mass",
              "session-whole-unit",
              "session-union-score",
              "pool-tune-fold"},
             {"dump", "federated", "keep-broken", "session-groups-only", "ceiling", "verdict-silences-broken",
              "pool-tune",
              "fed-sibling",
              "fed-kind-trust-rows"}}));
  if (!args.Has("out")) return absl::InvalidArgumentError("--out is required");
  return ParseNewsiteArgs(args, o);
}

}  // namespace fedlog::offline
