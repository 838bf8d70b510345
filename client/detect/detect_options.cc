#include "client/detect/detect_options.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::client::detect {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (base_dir.empty() || p.empty() || p == "-" || p[0] == '/') return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

template <typename T>
void Default(T value, T* field) {
  if (value > 0) *field = value;
}

// detect.detector_choice, detector_choice_margin and detector_choice_compare (DetectConfig 57, 58, 27)
// into o->detector_choice;
// call after expected_alert_rate and label_free_with_model are read.
absl::Status ParseDetectorChoice(const v1::DetectConfig& d, DetectOptions* o) {
  if (!d.detector_choice().empty()) {
    absl::StatusOr<fewshot::ChoiceMode> mode = fewshot::ParseChoiceMode(d.detector_choice());
    if (!mode.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("detect.detector_choice: ", mode.status().message()));
    }
    o->detector_choice.mode = *mode;
    if (*mode == fewshot::ChoiceMode::kLabelFree && o->expected_alert_rate <= 0) {
      return absl::InvalidArgumentError(
          "detect.detector_choice label_free needs detect.expected_alert_rate > 0 (the label-free detector)");
    }
    if (*mode == fewshot::ChoiceMode::kModel && o->label_free_with_model) {
      return absl::InvalidArgumentError(
          "detect.detector_choice model contradicts detect.label_free_with_model (which keeps sources label-free)");
    }
  }
  if (!(d.detector_choice_margin() <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.detector_choice_margin must be at most 1");
  }
  if (d.detector_choice_margin() != 0) o->detector_choice.margin = std::max(0.0, d.detector_choice_margin());
  absl::StatusOr<fewshot::CompareUnits> compare = fewshot::ParseCompareUnits(d.detector_choice_compare());
  if (!compare.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("detect.detector_choice_compare: ", compare.status().message()));
  }
  o->detector_choice.compare = *compare;
  return o->detector_choice.Validate();
}

// detect.kind_alarm_budget, kind_alarm_exempt_sites and kind_alarm_budget_mass (DetectConfig 66-68) into `*b`.
absl::Status KindAlarmBudgetFromConfig(const v1::DetectConfig& d, kinds::AlarmBudgetOptions* b) {
  const double share = d.kind_alarm_budget();
  if (!(share <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.kind_alarm_budget must be at most 1 (0 = default, < 0 = off)");
  }
  if (share < 0) b->share = 0;
  if (share > 0) b->share = share;
  const uint32_t exempt = d.kind_alarm_exempt_sites();
  if (exempt == 1 || exempt > static_cast<uint32_t>(kinds::kMaxVerdictSites)) {
    return absl::InvalidArgumentError(absl::StrCat("detect.kind_alarm_exempt_sites must be 0 (none exempt) or in [2, ",
                                                   kinds::kMaxVerdictSites, "]"));
  }
  b->exempt_sites = static_cast<int>(exempt);
  absl::StatusOr<kinds::AlarmBudgetMass> mass = kinds::ParseAlarmBudgetMass(d.kind_alarm_budget_mass());
  if (!mass.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("detect.kind_alarm_budget_mass must be \"quiet\" (the default) or "
                                                   "\"all\", got \"", d.kind_alarm_budget_mass(), "\""));
  }
  b->mass = *mass;
  return b->Validate();
}

}  // namespace

absl::StatusOr<DetectOptions> DetectOptionsFromConfig(const v1::ClientConfig& config,
                                                      const std::string& base_dir) {
  const v1::DetectConfig& d = config.detect();
  DetectOptions o;
  if (config.data_dir().empty()) return absl::InvalidArgumentError("data_dir is required");
  o.data_dir = Resolve(base_dir, config.data_dir());
  if (d.sources_size() == 0) {
    return absl::InvalidArgumentError("detect.sources needs at least one source");
  }
  for (int i = 0; i < d.sources_size(); ++i) {
    const v1::DetectSourceConfig& s = d.sources(i);
    if (s.name().empty() || s.paths_size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("detect.sources[", i, "] needs a name and paths"));
    }
    SourceOptions so{s.name(), s.format().empty() ? s.name() : s.format(), {}};
    for (const std::string& p : s.paths()) so.paths.push_back(Resolve(base_dir, p));
    o.sources.push_back(std::move(so));
  }
  o.alerts_file = d.alerts_file().empty() ? JoinPath(o.data_dir, "alerts.jsonl")
                                          : Resolve(base_dir, d.alerts_file());
  o.alerts_stdout = d.alerts_stdout();
  o.webhook_url = d.webhook_url();
  Default(d.webhook_max_attempts(), &o.webhook_max_attempts);
  Default(d.webhook_backoff_initial_ms(), &o.webhook_backoff_initial_ms);
  Default(d.webhook_backoff_max_ms(), &o.webhook_backoff_max_ms);
  if (d.dedup_window_s() != 0) o.dedup_window_s = d.dedup_window_s();
  if (d.rate_limit_per_min() != 0) o.rate_limit_per_min = d.rate_limit_per_min();
  if (!d.metrics_listen().empty()) o.metrics_listen = d.metrics_listen();
  Default(d.queue_capacity(), &o.queue_capacity);
  Default(d.batch_max(), &o.batch_max);
  Default(d.poll_interval_ms(), &o.poll_interval_ms);
  if (d.context_lines() < 0) return absl::InvalidArgumentError("detect.context_lines < 0");
  Default(d.context_lines(), &o.context_lines);
  Default(d.retention_scores(), &o.retention_scores);
  Default(d.retention_alerts(), &o.retention_alerts);
  if (d.threshold() < 0 || d.threshold() > 1) {
    return absl::InvalidArgumentError("detect.threshold must be in [0, 1]");
  }
  o.threshold = d.threshold();
  if (!(d.expected_alert_rate() >= 0 && d.expected_alert_rate() <= 0.5)) {
    return absl::InvalidArgumentError("detect.expected_alert_rate must be in [0, 0.5]");
  }
  o.expected_alert_rate = d.expected_alert_rate();
  if (!(d.max_alert_rate() <= 0.5)) {  // also NaN
    return absl::InvalidArgumentError("detect.max_alert_rate must be at most 0.5");
  }
  if (d.max_alert_rate() != 0) o.max_alert_rate = std::max(0.0, d.max_alert_rate());
  if (d.threshold_label_prior() != 0) o.threshold_label_prior = d.threshold_label_prior();
  if (!(o.threshold_label_prior > 0 && o.threshold_label_prior <= 1e6)) {
    return absl::InvalidArgumentError("detect.threshold_label_prior must be in (0, 1e6]");
  }
  if (!(d.fewshot_match() <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.fewshot_match must be at most 1");
  }
  if (d.fewshot_match() != 0) o.fewshot_match = std::max(-1.0, d.fewshot_match());
  if (!(d.fewshot_label_prior() >= 0 && d.fewshot_label_prior() <= 1e6)) {
    return absl::InvalidArgumentError("detect.fewshot_label_prior must be in [0, 1e6]");
  }
  if (d.fewshot_label_prior() != 0) o.fewshot_label_prior = d.fewshot_label_prior();
  if (!(d.fewshot_lower_prior() <= 1e6)) {  // also NaN
    return absl::InvalidArgumentError("detect.fewshot_lower_prior must be at most 1e6");
  }
  if (d.fewshot_lower_prior() != 0) o.fewshot_lower_prior = std::max(0.0, d.fewshot_lower_prior());
  if (!(d.fewshot_keep_alert_match() <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.fewshot_keep_alert_match must be at most 1");
  }
  if (d.fewshot_keep_alert_match() != 0) {
    o.fewshot_keep_alert_match = std::max(0.0, d.fewshot_keep_alert_match());
  }
  if (!(d.fewshot_encoder_weight() <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.fewshot_encoder_weight must be at most 1");
  }
  if (d.fewshot_encoder_weight() != 0) o.fewshot_encoder_weight = std::max(0.0, d.fewshot_encoder_weight());
  o.label_free_with_model = d.label_free_with_model();
  FEDLOG_RETURN_IF_ERROR(ParseDetectorChoice(d, &o));
  if (!(d.session_lookup_match() <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.session_lookup_match must be at most 1");
  }
  if (d.session_lookup_match() != 0) o.session_lookup_match = std::max(-1.0, d.session_lookup_match());
  if (!d.session_kind_rule().empty()) {
    absl::StatusOr<fewshot::KindRule> rule = fewshot::ParseKindRule(d.session_kind_rule());
    if (!rule.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("detect.session_kind_rule: ", rule.status().message()));
    }
    o.session_kind_rule = *rule;
  }
  if (!d.session_whole_unit().empty()) {
    if (d.session_whole_unit() != "on" && d.session_whole_unit() != "off") {
      return absl::InvalidArgumentError(absl::StrCat("detect.session_whole_unit must be \"on\" or \"off\", got \"",
                                                     d.session_whole_unit(), "\""));
    }
    o.session_whole_unit = d.session_whole_unit() == "on";
  }
  if (!d.session_union_score().empty()) {
    if (d.session_union_score() != "on" && d.session_union_score() != "off") {
      return absl::InvalidArgumentError(absl::StrCat("detect.session_union_score must be \"on\" or \"off\", got \"",
                                                     d.session_union_score(), "\""));
    }
    o.session_union_score = d.session_union_score() == "on";
  }
  if (d.session_union_max_keys() < 0 || d.session_union_max_keys() > 10000000) {
    return absl::InvalidArgumentError("detect.session_union_max_keys must be in [0, 10000000] (0: default)");
  }
  if (d.session_union_max_keys() > 0) o.session_union_max_keys = d.session_union_max_keys();
  if (!d.session_label_cut().empty()) {
    absl::StatusOr<novelty::LabelCut> cut = novelty::ParseLabelCut(d.session_label_cut());
    if (!cut.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("detect.session_label_cut: ", cut.status().message()));
    }
    o.session_label_cut = *cut;
  }
  if (d.kind_verdicts() == "off") {
    o.kind_verdicts = false;
    o.kind_verdict_sessions = false;
  } else if (d.kind_verdicts() == "lines") {
    o.kind_verdict_sessions = false;
  } else if (!d.kind_verdicts().empty() && d.kind_verdicts() != "on") {
    return absl::InvalidArgumentError("detect.kind_verdicts must be \"on\", \"lines\" or \"off\"");
  }
  if (d.kind_verdict_silence_sites() > static_cast<uint32_t>(kinds::kMaxVerdictSites)) {
    return absl::InvalidArgumentError(
        absl::StrCat("detect.kind_verdict_silence_sites must be at most ", kinds::kMaxVerdictSites));
  }
  if (d.kind_verdict_silence_sites() != 0) {
    o.kind_verdict_silence_sites = static_cast<int>(d.kind_verdict_silence_sites());
  }
  FEDLOG_RETURN_IF_ERROR(KindAlarmBudgetFromConfig(d, &o.kind_alarm_budget));
  o.session_pattern = d.session_pattern();
  if (d.session_quiet_ms() < 0) return absl::InvalidArgumentError("detect.session_quiet_ms must be >= 0");
  if (d.session_quiet_ms() > 0) o.session_quiet_ms = d.session_quiet_ms();
  if (d.session_incomplete_quiet_ms() > 86400000) {
    return absl::InvalidArgumentError("detect.session_incomplete_quiet_ms must be at most 86400000");
  }
  if (d.session_incomplete_quiet_ms() != 0) {
    o.session_incomplete_quiet_ms = std::max<int64_t>(0, d.session_incomplete_quiet_ms());
  }
  // 0 keeps the default, < 0 switches the term off.
  auto within = [](double v, double cap, const char* name, double* field) -> absl::Status {
    if (!(v <= cap)) return absl::InvalidArgumentError(absl::StrCat("detect.", name, " must be at most ", cap));
    if (v != 0) *field = std::max(0.0, v);
    return absl::OkStatus();
  };
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_within_level(), 1, "label_free_within_level", &o.within_level));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_recurrence_weight(), 100, "label_free_recurrence_weight",
                                &o.recurrence_weight));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_report_weight(), 100, "label_free_report_weight", &o.report_weight));
  FEDLOG_RETURN_IF_ERROR(
      within(d.label_free_max_cluster_share(), 1, "label_free_max_cluster_share", &o.max_cluster_share));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_fixed_weight(), 100, "label_free_fixed_weight", &o.fixed_weight));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_path_weight(), 100, "label_free_path_weight", &o.path_weight));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_quiet_weight(), 100, "label_free_quiet_weight", &o.quiet_weight));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_field_report_weight(), 1, "label_free_field_report_weight",
                                &o.field_report_weight));
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_path_repeat_weight(), 1, "label_free_path_repeat_weight",
                                &o.path_repeat_weight));
  o.reports_adapt = d.label_free_reports_adapt();
  FEDLOG_RETURN_IF_ERROR(within(d.label_free_rest_budget(), 1, "label_free_rest_budget", &o.rest_budget));
  // 0 keeps the default, > 0 on, < 0 off.
  if (d.label_free_rest_interpolate() != 0) o.rest_interpolate = d.label_free_rest_interpolate() > 0;
  if (d.label_free_reports_field_only() != 0) o.reports_field_only = d.label_free_reports_field_only() > 0;
  if (d.label_free_rank_window() > 65536) {
    return absl::InvalidArgumentError("detect.label_free_rank_window must be at most 65536");
  }
  if (d.label_free_rank_window() != 0) o.rank_window = std::max(0, d.label_free_rank_window());
  if (d.label_free_recurrence_age_lines() > 1000000000) {
    return absl::InvalidArgumentError("detect.label_free_recurrence_age_lines must be at most 1000000000");
  }
  if (d.label_free_recurrence_age_lines() != 0) {
    o.recurrence_age_lines = std::max<int64_t>(0, d.label_free_recurrence_age_lines());
  }
  if (d.label_free_budget_window() > 1000000) {
    return absl::InvalidArgumentError("detect.label_free_budget_window must be at most 1000000");
  }
  if (d.label_free_budget_window() != 0) {
    o.budget_window = std::max(0, d.label_free_budget_window());
  }
  if (d.label_free_refresh_on_rise() != 0) o.refresh_on_rise = d.label_free_refresh_on_rise() > 0;
  if (!novelty::ParseRule(d.label_free_threshold_rule(), &o.threshold_rule)) {
    return absl::InvalidArgumentError("detect.label_free_threshold_rule must be compact or valley");
  }
  if (!(d.label_free_cluster_width() >= 0 && d.label_free_cluster_width() <= 1)) {  // also NaN
    return absl::InvalidArgumentError("detect.label_free_cluster_width must be in [0, 1]");
  }
  if (d.label_free_cluster_width() != 0) o.cluster_width = d.label_free_cluster_width();
  if (d.label_free_hold_lines() > 100000) {
    return absl::InvalidArgumentError("detect.label_free_hold_lines must be at most 100000");
  }
  if (d.label_free_hold_lines() != 0) o.hold_lines = std::max<int64_t>(0, d.label_free_hold_lines());
  if (d.label_free_hold_ms() != 0) o.hold_ms = std::max<int64_t>(0, d.label_free_hold_ms());
  o.start_at_end = d.start_at_end();
  o.labels_file = Resolve(base_dir, d.labels_file());
  if (!o.webhook_url.empty() && o.webhook_url.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError("detect.webhook_url must start with http://");
  }
  return o;
}

fewshot::FewShotOptions FewShotRule(const DetectOptions& options) {
  fewshot::FewShotOptions fo;
  fo.label_prior = options.fewshot_label_prior;
  fo.lower_prior = options.fewshot_lower_prior;
  fo.keep_alert_match = options.fewshot_keep_alert_match;
  fo.encoder_weight = options.fewshot_encoder_weight;
  return fo;
}

novelty::NoveltyOptions LabelFreeRule(const DetectOptions& options) {
  novelty::NoveltyOptions n;
  n.expected_alert_rate = options.expected_alert_rate;
  n.max_alert_rate = options.max_alert_rate;
  n.label_prior = options.threshold_label_prior;
  n.session.shape.quiet_ms = options.session_quiet_ms;
  n.session.shape.incomplete_quiet_ms = options.session_incomplete_quiet_ms;
  n.session.shape.union_score = options.session_union_score;
  n.session.shape.max_union_keys = static_cast<size_t>(options.session_union_max_keys);
  n.session.label_cut = options.session_label_cut;
  n.within_level = options.within_level;
  n.recurrence_weight = options.recurrence_weight;
  n.report_weight = options.report_weight;
  n.max_cluster_share = options.max_cluster_share;
  n.threshold_rule = options.threshold_rule;
  n.cluster_width = options.cluster_width;
  n.fixed_weight = options.fixed_weight;
  n.path_weight = options.path_weight;
  n.quiet_weight = options.quiet_weight;
  n.field_report_weight = options.field_report_weight;
  n.path_repeat_weight = options.path_repeat_weight;
  n.reports_adapt = options.reports_adapt;
  n.rest_budget = options.rest_budget;
  n.rest_interpolate = options.rest_interpolate;
  n.reports_field_only = options.reports_field_only;
  n.rank_window = options.rank_window;
  n.budget_window = options.budget_window;
  n.refresh_on_rise = options.refresh_on_rise;
  n.recurrence_age_lines = options.recurrence_age_lines;
  n.hold_lines = options.hold_lines;
  return n;
}

}  // namespace fedlog::client::detect
