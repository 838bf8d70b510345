// Options of the site's real-time detector (client/detect) and their mapping from the operator's
// config (DetectConfig in proto/fedlog/v1/config.proto, docs/DETECTION.md). Defaults are documented
// on each field; DetectOptionsFromConfig fills them where the config leaves a field 0 or empty.
// Thread-compatible value types.
#ifndef FEDLOG_CLIENT_DETECT_DETECT_OPTIONS_H_
#define FEDLOG_CLIENT_DETECT_DETECT_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fewshot/detector_choice.h"
#include "common/fewshot/fewshot.h"
#include "common/fewshot/session_kinds.h"
#include "common/fewshot/session_lookup.h"
#include "common/kinds/alarm_budget.h"
#include "common/kinds/kind_sketch.h"
#include "common/novelty/scorer.h"
#include "fedlog/v1/config.pb.h"

namespace fedlog::client::detect {

struct SourceOptions {
  std::string name;                // source type ("HDFS"): adapter, Drain and featurizer state key
  std::string format;              // common/logparse format name
  std::vector<std::string> paths;  // files or globs; "-" is stdin
};

// One line after scoring, handed to DetectOptions::on_scored (tests, benchmarks).
struct ScoredLine {
  std::string source;
  std::string file;    // path the line was read from ("-" for stdin)
  int64_t offset = 0;  // byte offset of the line's end in that file (after its newline)
  std::string line;    // raw text without the newline
  int32_t template_id = -1;
  float score = -1;  // -1: no model was loaded when the line was processed
  bool alert = false;
  int64_t model_version = 0;
};

// A recorded log of a source with the site's labels for some of its lines (LogSourceConfig.labels):
// its labeled lines become few-shot support for the source's detector.
struct LabeledLog {
  std::string source;             // a DetectOptions source name
  std::string path;               // the log file
  std::map<int64_t, int> labels;  // 1-based line number -> label (0 normal, >= 1 anomalous)
};

// detect.session_kind_rule's default (empty in the config): "exact", chosen on the session systems'
// tuning parts by a rule written first (docs/EVALUATION.md "Session 13").
inline constexpr fewshot::KindRule kDefaultSessionKindRule = fewshot::KindRule::kExact;

// detect.session_whole_unit's default (empty in the config), decided on the session systems' tuning
// parts by a rule written first (docs/EVALUATION.md "Session 21"), and again with a second tuning fold
// (docs/EVALUATION.md "Session 22: whole-unit decisions given a tuning fold where they can act").
inline constexpr bool kDefaultSessionWholeUnit = false;

// detect.session_union_score's default (empty in the config), decided on the session systems' tuning
// parts by a rule written first (docs/EVALUATION.md "Session 21: the session detector judges a key's union").
inline constexpr bool kDefaultSessionUnionScore = true;

// detect.detector_choice's default (empty in the config), chosen on bgl2k by a rule written first
// (docs/EVALUATION.md "Session 14").
inline constexpr fewshot::ChoiceMode kDefaultDetectorChoice = fewshot::ChoiceMode::kAuto;

struct DetectOptions {
  std::string data_dir;  // store (detect.db), promoted_model.{bundle,manifest}; required
  std::vector<SourceOptions> sources;
  std::string alerts_file;  // default <data_dir>/alerts.jsonl
  bool alerts_stdout = false;
  std::string webhook_url;  // empty: none
  int webhook_max_attempts = 8;
  int webhook_backoff_initial_ms = 200;
  int webhook_backoff_max_ms = 10000;
  int dedup_window_s = 60;                        // < 0: off
  int rate_limit_per_min = 10;                    // < 0: unlimited
  std::string metrics_listen = "127.0.0.1:9464";  // "off": no endpoint; port 0 picks a free one
  int queue_capacity = 65536;
  int batch_max = 256;
  int poll_interval_ms = 200;
  int context_lines = 3;
  int64_t retention_scores = 100000;
  int64_t retention_alerts = 100000;
  float threshold = 0;  // > 0 overrides the model's threshold
  bool start_at_end = false;
  std::string labels_file;               // optional CSV: source,label,line
  std::vector<LabeledLog> labeled_logs;  // from the site's sources config (client/main.cc fills it)
  int rotate_grace_ms = 1000;
  // > 0: sources without a model are scored label-free (common/novelty) at this alert budget.
  double expected_alert_rate = 0;
  double max_alert_rate = 0.25;        // label-free threshold adaptation ceiling (detect.max_alert_rate)
  double threshold_label_prior = 10;   // label shrinkage of that threshold (detect.threshold_label_prior)
  std::string session_pattern;         // label-free sessions: RE2 in the message (detect.session_pattern)
  int64_t session_quiet_ms = 300000;   // a session is scored after this long quiet (detect.session_quiet_ms)
  // An incomplete session waits this long instead (detect.session_incomplete_quiet_ms); <= quiet: no wait.
  int64_t session_incomplete_quiet_ms = novelty::ShapeOptions().incomplete_quiet_ms;
  double fewshot_match = 0.3;          // labels decide lines this near (detect.fewshot_match); <= 0 off
  // The few-shot threshold on the lines no label decides (fewshot::FewShotOptions::label_prior and
  // lower_prior; detect.fewshot_label_prior, fewshot_lower_prior; lower_prior 0: never lowered).
  double fewshot_label_prior = fewshot::FewShotOptions().label_prior;
  double fewshot_lower_prior = fewshot::FewShotOptions().lower_prior;
  // A label-free alert far from every normal label stands (fewshot::FewShotOptions::keep_alert_match,
  // detect.fewshot_keep_alert_match; 0 off).
  double fewshot_keep_alert_match = fewshot::FewShotOptions().keep_alert_match;
  // The labels' class means in the model's encoder space for the lines no label decides
  // (fewshot::FewShotOptions::encoder_weight, detect.fewshot_encoder_weight; 0 off). Needs
  // label_free_with_model (only then does a label-free source have the model's encoder).
  double fewshot_encoder_weight = fewshot::FewShotOptions().encoder_weight;
  // Label-free sources stay label-free when a model arrives, which then only embeds their lines
  // (LinePipeline::KeepLabelFreeWithModel, detect.label_free_with_model).
  bool label_free_with_model = false;
  // Which detector scores a source both the model and the label-free detector could score
  // (detect.detector_choice, detector_choice_margin, detector_choice_compare;
  // LinePipeline::SetDetectorChoice). The default mode is kDefaultDetectorChoice.
  fewshot::ChoiceOptions detector_choice{kDefaultDetectorChoice};
  // Session labels decide session units this near (detect.session_lookup_match,
  // fewshot::SessionLookup); <= 0 off (the default).
  double session_lookup_match = fewshot::SessionLookup::kDefaultMatch;
  // Unit-kind verdicts over the session labels (detect.session_kind_rule, fewshot::SessionKinds).
  fewshot::KindRule session_kind_rule = kDefaultSessionKindRule;
  // Whole-unit decisions over the unit kinds (detect.session_whole_unit, fewshot::SessionWholeUnits);
  // the default is kDefaultSessionWholeUnit.
  bool session_whole_unit = kDefaultSessionWholeUnit;
  // Union scoring of a key's later pieces (detect.session_union_score, novelty::ShapeOptions::union_score)
  // and the keys it keeps (detect.session_union_max_keys).
  bool session_union_score = kDefaultSessionUnionScore;
  int64_t session_union_max_keys = static_cast<int64_t>(novelty::ShapeOptions().max_union_keys);
  // Where labelled sessions put the session threshold (detect.session_label_cut,
  // novelty::SessionOptions::label_cut).
  novelty::LabelCut session_label_cut = novelty::SessionOptions().label_cut;
  // The federation's message-kind verdicts on lines (detect.kind_verdicts "on"/"lines"/"off",
  // LinePipeline::EnableKindVerdicts) and on label-free sessions ("on" only,
  // LinePipeline::EnableSessionKindVerdicts). Both on by default (docs/DETECTION.md).
  bool kind_verdicts = true;
  bool kind_verdict_sessions = true;
  // How many sites a normal kind verdict needs (detect.kind_verdict_silence_sites; kinds::KindVerdictOptions::
  // normal_sites, default 2).
  int kind_verdict_silence_sites = kinds::KindVerdictOptions{}.normal_sites;
  // The alarm budget on anomalous kind verdicts (detect.kind_alarm_budget, kind_alarm_exempt_sites,
  // kind_alarm_budget_mass; LinePipeline::SetKindAlarmBudget). share 0: off.
  kinds::AlarmBudgetOptions kind_alarm_budget;
  // The label-free score within the severity level (detect.label_free_within_level,
  // label_free_recurrence_weight, label_free_report_weight; novelty::NoveltyOptions's fields).
  double within_level = novelty::NoveltyOptions().within_level;
  double recurrence_weight = novelty::NoveltyOptions().recurrence_weight;
  double report_weight = novelty::NoveltyOptions().report_weight;
  // Label-free threshold: the alarm cluster split (detect.label_free_max_cluster_share).
  double max_cluster_share = novelty::NoveltyOptions().max_cluster_share;
  // Label-free threshold rule and the compact rule's cluster width (detect.label_free_threshold_rule,
  // label_free_cluster_width; novelty::NoveltyOptions's fields).
  novelty::ThresholdRule threshold_rule = novelty::NoveltyOptions().threshold_rule;
  double cluster_width = novelty::NoveltyOptions().cluster_width;
  // The fixed-message term and the warm-up hold (detect.label_free_fixed_weight,
  // label_free_hold_lines, label_free_hold_ms; novelty::NoveltyOptions's fields, LabelFreeScorer).
  double fixed_weight = novelty::NoveltyOptions().fixed_weight;
  double path_weight = novelty::NoveltyOptions().path_weight;  // detect.label_free_path_weight
  double quiet_weight = novelty::NoveltyOptions().quiet_weight;  // detect.label_free_quiet_weight
  // detect.label_free_field_report_weight
  double field_report_weight = novelty::NoveltyOptions().field_report_weight;
  // detect.label_free_path_repeat_weight
  double path_repeat_weight = novelty::NoveltyOptions().path_repeat_weight;
  bool reports_adapt = novelty::NoveltyOptions().reports_adapt;  // detect.label_free_reports_adapt
  double rest_budget = novelty::NoveltyOptions().rest_budget;  // detect.label_free_rest_budget
  // detect.label_free_rest_interpolate
  bool rest_interpolate = novelty::NoveltyOptions().rest_interpolate;
  // detect.label_free_reports_field_only
  bool reports_field_only = novelty::NoveltyOptions().reports_field_only;
  int64_t rank_window = novelty::NoveltyOptions().rank_window;  // detect.label_free_rank_window (0: off)
  // detect.label_free_budget_window (0: off)
  int64_t budget_window = novelty::NoveltyOptions().budget_window;
  bool refresh_on_rise = novelty::NoveltyOptions().refresh_on_rise;  // detect.label_free_refresh_on_rise
  // detect.label_free_recurrence_age_lines (0: off, the plain count)
  int64_t recurrence_age_lines = novelty::NoveltyOptions().recurrence_age_lines;
  int64_t hold_lines = novelty::NoveltyOptions().hold_lines;
  int64_t hold_ms = 600000;  // <= 0: no time bound
  // Called on the scoring thread for every processed line, in order per file; optional.
  std::function<void(const ScoredLine&)> on_scored;
};

// Options from `config.detect` (`config.data_dir` is the data dir); relative paths resolve against
// `base_dir`. InvalidArgument for a missing data_dir, no sources, a source without name or paths,
// or an out-of-range number.
absl::StatusOr<DetectOptions> DetectOptionsFromConfig(const v1::ClientConfig& config,
                                                      const std::string& base_dir = "");

// The few-shot rule of label-free sources (LiveFewShot) from `options` (its match is fewshot_match,
// which LinePipeline::EnableLabelFree sets).
fewshot::FewShotOptions FewShotRule(const DetectOptions& options);
// The label-free detector's options (novelty::NoveltyOptions) from `options`, as the Detector gives them to
// LinePipeline::EnableLabelFree.
novelty::NoveltyOptions LabelFreeRule(const DetectOptions& options);

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_DETECT_OPTIONS_H_
