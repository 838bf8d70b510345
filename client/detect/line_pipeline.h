// LinePipeline: the per-line work of live detection, shared by the detector and bench/detect:
// header parse (LineParser) -> template (Drain, match-only against known templates, learning a new
// one when none fits) -> features (StreamFeaturizer, the training featurizer) -> encoder input
// (model::AppendLine's conversion) -> score (the current DetectionModel's LineScorer for the
// source, or the label-free detector with the site's labels). The model is swapped between lines
// (SetModel), so a swap drops nothing. Which of the two scores a source that both could score is the
// detector choice (SetDetectorChoice, common/fewshot/detector_choice.h), reviewed when a model or
// labels arrive.
// Thread-compatible: one thread drives a pipeline.
#ifndef FEDLOG_CLIENT_DETECT_LINE_PIPELINE_H_
#define FEDLOG_CLIENT_DETECT_LINE_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/detect/detect_options.h"
#include "client/detect/label_free.h"
#include "client/detect/live_fewshot.h"
#include "client/detect/model_loader.h"
#include "common/fewshot/detector_choice.h"
#include "common/features/stream_featurizer.h"
#include "common/kinds/alarm_budget.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"

namespace fedlog::client::detect {

struct LineResult {
  int32_t template_id = -1;
  bool header_matched = false;  // false: a parse failure (the whole line is the content)
  bool new_template = false;    // no known template fitted; Drain learnt one
  int64_t time_ms = logparse::kNoTime;
  float score = -1;  // -1: no model (or none for this source)
  float threshold = 0;
  bool alert = false;
  uint32_t signals = 0;  // label-free scoring: the signals that fired (novelty::FiredNames)
  // Label-free scoring with labels (LiveFewShot): the class of the labelled line near enough to
  // decide this one (1 anomalous, 0 normal), which then made `alert`; -1 when none was near.
  int label_match = -1;
  // The label-free detector alerted and the labels did not: a normal label near the line, or (no
  // label near) the few-shot threshold the labels raised (LiveFewShot::KeepsAlert).
  bool label_silenced = false;
  // No label near, the label-free detector did not alert, and the few-shot threshold the labels
  // lowered did (LiveFewShot::Alerts), or the encoder rule put the line above it; `threshold` is
  // then that threshold on the fused scale (the label-free one under the encoder rule, whose
  // threshold is on a rank scale).
  bool label_lowered = false;
  // The model scored the line; false: the label-free detector (or nothing: score -1).
  bool model_scored = false;
  // The federation's verdict on the line's message kind (EnableKindVerdicts) decided `alert`: 1 it
  // raised (or kept) it, -1 it silenced it; 0 none applied.
  int kind_verdict = 0;
  // An anomalous kind verdict would have raised the alert, and the source's alarm budget withheld it
  // (SetKindAlarmBudget): the site's own decision stands.
  bool kind_withheld = false;
};

class LinePipeline {
 public:
  // `drain_states` (optional, per source index) restores each source's templates
  // (Drain::Serialize).
  static absl::StatusOr<std::unique_ptr<LinePipeline>> Create(
      const std::vector<SourceOptions>& sources, const std::vector<std::string>& drain_states = {});

  // Processes one raw line of source `source` (index into the sources).
  void Process(int source, std::string_view line, LineResult* out);

  // A new model; with label_free_with_model its encoder embeds the label-free sources' lines from
  // now on (the window's older embeddings are dropped and the labels embedded again).
  void SetModel(std::unique_ptr<DetectionModel> model);
  // true (detect.label_free_with_model): a source scored label-free stays label-free when the model
  // has a scorer for it, whatever the detector choice, and that scorer's encoder embeds its lines for
  // the few-shot rule's class means (LiveFewShot, FewShotOptions::encoder_weight). false (default):
  // the detector choice decides. Call after EnableLabelFree.
  void KeepLabelFreeWithModel(bool keep) {
    label_free_with_model_ = keep;
    ReviewChoices();
  }
  // Which detector scores a source that both the model and the label-free detector could score
  // (detect.detector_choice; the default here is kModel, the behaviour before the choice existed;
  // the Detector passes its options). Without label-free scoring (EnableLabelFree) the model scores
  // every source it has a scorer for. InvalidArgument for options that do not Validate(). Under kAuto
  // the choice is reviewed at SetModel and SetLabelFreeLabels, and every LiveFewShot::kRefitLines
  // lines while a source's label-free window is too short to compare on.
  absl::Status SetDetectorChoice(const fewshot::ChoiceOptions& options);
  // The current choice for `source` (its reason says why; fewshot::ChooseDetector).
  const fewshot::Choice& choice(int source) const { return choices_[static_cast<size_t>(source)]; }
  // Incremented whenever a source's choice (or its reason) changes.
  int64_t choices_version() const { return choices_version_; }
  // From now on a source without a model (or without a scorer in it) is scored by the label-free
  // detector at `options.expected_alert_rate` instead of staying unscored. InvalidArgument for
  // options that do not Validate().
  // `session_pattern`: detect.session_pattern (LabelFreeScorer::Create). `fewshot_match` > 0: the
  // site's labels (SetLabelFreeLabels) decide the lines within that Jaccard similarity of a
  // labelled line and move the few-shot threshold for the rest (LiveFewShot, detect.fewshot_match;
  // the label-free line threshold then ignores them); <= 0: they move the label-free threshold only.
  // `fewshot`: the rest of the few-shot rule (label_prior, lower_prior; its match is fewshot_match).
  // `session_lookup_match` > 0: session labels decide the session units that near
  // (LabelFreeScorer::EnableSessionLookup, detect.session_lookup_match); <= 0 off.
  // `session_kind_rule`: unit-kind verdicts (LabelFreeScorer::EnableSessionKinds,
  // detect.session_kind_rule); kOff: off. `session_whole_unit`: a key's later pieces re-decide it as
  // a whole (LabelFreeScorer::EnableSessionWholeUnit, detect.session_whole_unit).
  absl::Status EnableLabelFree(const novelty::NoveltyOptions& options,
                               const std::string& session_pattern = "",
                               double fewshot_match = fewshot::FewShotOptions{}.match,
                               const fewshot::FewShotOptions& fewshot = {},
                               double session_lookup_match = 0,
                               fewshot::KindRule session_kind_rule = fewshot::KindRule::kOff,
                               bool session_whole_unit = false);
  // Replaces `out` with the label-free session alerts raised since the last call.
  // Labelled sessions that reached `source`'s session threshold (0 without label-free scoring).
  int64_t session_labels(int source) const {
    return label_free_ == nullptr ? 0 : label_free_->session_labels(source);
  }
  void TakeSessionAlerts(std::vector<LabelFreeScorer::SessionAlert>* out) {
    out->clear();
    if (label_free_ != nullptr) label_free_->TakeSessionAlerts(out);
  }
  // Label-free warm-up hold (LabelFreeScorer::ReleaseHeldAfter, TakeHeldAlerts).
  void ReleaseHeldAfter(int64_t now_ms, int64_t hold_ms) {
    if (label_free_ != nullptr) label_free_->ReleaseHeldAfter(now_ms, hold_ms);
  }
  void TakeHeldAlerts(std::vector<LabelFreeScorer::HeldAlert>* out) {
    if (label_free_ != nullptr) label_free_->TakeHeldAlerts(out);
  }
  bool label_free() const { return label_free_ != nullptr; }
  // The few-shot rule judges `source`'s undecided lines with the encoder (LiveFewShot::encoder).
  bool fewshot_encoder(int source) const { return fewshot_ != nullptr && fewshot_->encoder(source); }
  // The site's labelled lines (source index, raw line, 1 anomalous / 0 normal) replace the ones given
  // before as the label-free threshold's labels and the few-shot support (LiveFewShot); lines are
  // matched to known templates only (nothing is learnt from them); a labelled line with a session also
  // labels its session (the session threshold's labels, LabelFreeScorer::ApplySessionLabels). No-op
  // without label-free scoring. `session_verdicts` (same form: a line of the session) label their
  // sessions and the sessions' groups only (`fedlog label`'s session verdicts), not their lines.
  void SetLabelFreeLabels(const std::vector<std::tuple<int, std::string, int>>& labels,
                          const std::vector<std::tuple<int, std::string, int>>& session_verdicts = {});
  // For `fedlog label`: keep every closed session's score (LabelFreeScorer::KeepSessionScores), the
  // session of the line Process saw last, and closing the open sessions at the end of the lines.
  void KeepSessionScores() {
    if (label_free_ != nullptr) label_free_->KeepSessionScores(true);
  }
  bool last_session(uint64_t* session) const {
    return label_free_ != nullptr && label_free_->last_session(session);
  }
  // Appends the kept session scores (source, score) since the last call.
  void TakeSessionScores(std::vector<std::pair<int, novelty::SessionScore>>* out) {
    if (label_free_ != nullptr) label_free_->TakeSessionScores(out);
  }
  void FlushSessions() {
    if (label_free_ != nullptr) label_free_->FlushSessions();
  }
  // true (detect.kind_verdicts): a scored line whose alert no site label decided (label_match < 0)
  // takes the verdict of the model's kind counts for its source (DetectionModel::kinds) on its
  // content's kind (kinds::KindSignature, kinds::KindSketch::VerdictOf at SetKindVerdictOptions'
  // options): anomalous alerts, normal silences, none leaves it. Lines only (EnableSessionKindVerdicts for
  // sessions).
  void EnableKindVerdicts(bool on) { kind_verdicts_ = on; }
  // The verdicts' options, for lines and sessions (default kinds::KindVerdictOptions{};
  // detect.kind_verdict_silence_sites sets normal_sites). `options` must be valid (KindVerdictOptions::Validate).
  void SetKindVerdictOptions(const kinds::KindVerdictOptions& options) {
    kind_options_ = options;
    for (kinds::AlarmBudget& b : line_budgets_) b.Invalidate();
    GiveKindSketches();
  }
  // The alarm budget on anomalous kind verdicts (detect.kind_alarm_budget, kind_alarm_exempt_sites,
  // kind_alarm_budget_mass; kinds::AlarmBudget; `options` must be valid): per source, over its lines and,
  // separately, over its closed label-free sessions, a verdict that alone would raise an alert does so only
  // while its kind is among the source's rarest anomalous-verdict kinds within the budget's share of its
  // units (a line the detector alerted or a label decides counts as the site's own). Default
  // kinds::AlarmBudgetOptions{}.
  void SetKindAlarmBudget(const kinds::AlarmBudgetOptions& options);
  // Anomalous kind verdicts on sessions the alarm budget withheld so far (lines: LineResult::kind_withheld).
  int64_t kind_withheld_sessions() const {
    return label_free_ != nullptr ? label_free_->kind_withheld_sessions() : 0;
  }
  // true (detect.kind_verdicts "on"): a label-free session the site's own labels do not decide alerts when
  // one of its lines' kinds has the anomalous verdict of the model's kind counts for its source; routine
  // kinds never silence a session (LabelFreeScorer::SetKindSketch). Sessions only; no-op without label-free
  // scoring.
  void EnableSessionKindVerdicts(bool on) {
    session_kind_verdicts_ = on;
    GiveKindSketches();
  }
  const DetectionModel* model() const { return model_.get(); }
  int64_t model_version() const { return model_ ? model_->version : 0; }
  int feature_dim() const { return featurizer_.dim(); }

  // About the line last given to Process: its encoder input and its template's parameters.
  const std::vector<int64_t>& last_tokens() const { return tokens_; }
  const std::vector<float>& last_dense() const { return dense_; }
  std::vector<std::string> LastParameters(int source, int32_t template_id) const;
  const std::string& TemplateText(int source, int32_t template_id);

  std::string SerializeDrain(int source) const { return sources_[source].drain->Serialize(); }
  const std::string& source_name(int source) const { return sources_[source].name; }

 private:
  struct Source {
    std::string name;
    std::unique_ptr<logparse::LineParser> parser;
    std::unique_ptr<logparse::Drain> drain;
    std::vector<std::string> template_text;  // by template id; "" = not cached
  };
  // The labels decide the alert of the line just parsed (LiveFewShot): a label near it, or the
  // few-shot threshold for a label-free alert no label is near; the line also joins the window.
  void ApplyLabels(int source, int32_t template_id, double fused_score, LineResult* out);
  // The model's scorer for the source when the few-shot rule wants embeddings and label-free
  // sources keep the model as their encoder (label_free_with_model_); nullptr otherwise.
  model::LineScorer* Embedder(int source);
  // The line just featurized (tokens_, dense_) embedded by `scorer` into embedding_.
  void EmbedLast(int source, model::LineScorer* scorer);
  // Reviews every source's detector choice (fewshot::ChooseDetector) on the current model and labels.
  void ReviewChoices();
  // The leave-one-out verdicts on `source`'s line labels (fewshot::LeaveOneOutVerdicts), each label
  // embedded by `scorer`; false when the source's label-free window is too short to give them.
  bool ChoiceVerdicts(int source, model::LineScorer* scorer, std::vector<fewshot::LooVerdict>* out);
  // Featurizes a labelled line (parsed into `parsed`, template `r`) on `scratch` (a copy of the
  // stream's featurizer, made on first use) and embeds it with `scorer` into embedding_. Overwrites
  // tokens_ and dense_ (the caller restores them).
  void EmbedLabel(int source, const logparse::ParsedLine& parsed, int32_t template_id,
                  model::LineScorer* scorer, std::optional<features::StreamFeaturizer>* scratch);
  // Gives LiveFewShot the line labels again with their label-free scores now (PeekScore): at
  // SetLabelFreeLabels and every LiveFewShot::kRefitLines label-free lines, so the labels' scores
  // and the window's quantiles stay of the same time.
  void GiveFewShotLabels();
  // EnableKindVerdicts's rule on the line just parsed (parsed_), whose kind is line_kind_.
  void ApplyKindVerdict(int source, LineResult* out);
  // The alarm budget over `source`'s lines (made on first use).
  kinds::AlarmBudget& LineBudget(int source);
  // Gives the label-free scorer each source's kind counts from the model (none when session kind
  // verdicts are off): at EnableLabelFree, SetModel and EnableSessionKindVerdicts.
  void GiveKindSketches();
  explicit LinePipeline(features::StreamFeaturizer featurizer)
      : featurizer_(std::move(featurizer)) {}

  std::vector<Source> sources_;
  features::StreamFeaturizer featurizer_;
  std::unique_ptr<DetectionModel> model_;
  std::unique_ptr<LabelFreeScorer> label_free_;
  std::vector<std::tuple<int, std::string, int>> fewshot_labels_;  // line labels (not session verdicts)
  int64_t since_fewshot_labels_ = 0;  // label-free lines since GiveFewShotLabels
  std::unique_ptr<LiveFewShot> fewshot_;  // label-free sources' labels; null: off
  bool label_free_with_model_ = false;
  bool kind_verdicts_ = false;
  kinds::KindVerdictOptions kind_options_;
  kinds::AlarmBudgetOptions alarm_budget_;
  std::vector<kinds::AlarmBudget> line_budgets_;  // per source, over its lines (ApplyKindVerdict)
  bool session_kind_verdicts_ = false;
  std::optional<uint64_t> line_kind_;  // the kind of the line just parsed (when a kind rule needs it)
  fewshot::ChoiceOptions choice_options_{fewshot::ChoiceMode::kModel};
  std::vector<fewshot::Choice> choices_;  // per source
  bool choices_pending_ = false;          // a source waits for its label-free window (kAuto)
  int64_t since_review_ = 0;              // lines since ReviewChoices while pending
  int64_t choices_version_ = 0;
  std::vector<float> embedding_;  // the last line's embedding (empty: none)
  logparse::ParsedLine parsed_;
  features::LineFeatures features_;
  std::vector<int64_t> tokens_;
  std::vector<float> dense_;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_LINE_PIPELINE_H_
