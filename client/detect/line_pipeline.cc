#include "client/detect/line_pipeline.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/kinds/kind_signature.h"
#include "common/model/line_input.h"

namespace fedlog::client::detect {

absl::StatusOr<std::unique_ptr<LinePipeline>> LinePipeline::Create(
    const std::vector<SourceOptions>& sources, const std::vector<std::string>& drain_states) {
  FEDLOG_ASSIGN_OR_RETURN(features::StreamFeaturizer featurizer,
                          features::StreamFeaturizer::Create());
  std::unique_ptr<LinePipeline> p(new LinePipeline(std::move(featurizer)));
  for (size_t i = 0; i < sources.size(); ++i) {
    Source s;
    s.name = sources[i].name;
    auto parser = logparse::CreateLineParser(sources[i].format);
    if (!parser.ok()) {
      return Annotate(parser.status(), absl::StrCat("detect source ", s.name));
    }
    s.parser = std::move(*parser);
    if (i < drain_states.size() && !drain_states[i].empty()) {
      FEDLOG_ASSIGN_OR_RETURN(s.drain, logparse::Drain::Restore(drain_states[i], {}));
    } else {
      FEDLOG_ASSIGN_OR_RETURN(s.drain, logparse::Drain::Create({}));
    }
    p->sources_.push_back(std::move(s));
  }
  p->choices_.resize(p->sources_.size());
  p->ReviewChoices();
  return p;
}

const std::string& LinePipeline::TemplateText(int source, int32_t template_id) {
  static const std::string kNone;
  if (template_id < 0) return kNone;
  Source& s = sources_[source];
  if (s.template_text.size() <= static_cast<size_t>(template_id))
    s.template_text.resize(template_id + 1);
  std::string& text = s.template_text[template_id];
  if (text.empty()) text = s.drain->TemplateText(template_id);
  return text;
}

std::vector<std::string> LinePipeline::LastParameters(int source, int32_t template_id) const {
  std::vector<std::string_view> views;
  sources_[source].drain->LastParameters(template_id, &views);
  return std::vector<std::string>(views.begin(), views.end());
}

namespace {

// The model's scorer for `source` when its input matches the featurizer's; nullptr otherwise.
auto FindScorer(DetectionModel& model, const std::string& source, size_t dense_dim)
    -> decltype(&model.scorers.begin()->second) {
  auto it = model.scorers.find(source);
  if (it == model.scorers.end() || static_cast<int>(dense_dim) != it->second.spec().dense_dim) {
    return nullptr;
  }
  return &it->second;
}

}  // namespace

absl::Status LinePipeline::EnableLabelFree(const novelty::NoveltyOptions& options,
                                           const std::string& session_pattern, double fewshot_match,
                                           const fewshot::FewShotOptions& fewshot,
                                           double session_lookup_match,
                                           fewshot::KindRule session_kind_rule,
                                           bool session_whole_unit) {
  std::vector<std::vector<std::string>> fields;
  for (const Source& s : sources_) fields.push_back(s.parser->field_names());
  FEDLOG_ASSIGN_OR_RETURN(label_free_, LabelFreeScorer::Create(options, fields, session_pattern));
  if (session_lookup_match > 0) {
    FEDLOG_RETURN_IF_ERROR(label_free_->EnableSessionLookup(std::min(1.0, session_lookup_match)));
  }
  label_free_->EnableSessionKinds(session_kind_rule);
  label_free_->EnableSessionWholeUnit(session_whole_unit);
  GiveKindSketches();
  fewshot_.reset();
  if (fewshot_match > 0) {
    fewshot::FewShotOptions fo = fewshot;
    fo.match = fewshot_match;
    FEDLOG_ASSIGN_OR_RETURN(LiveFewShot f, LiveFewShot::Create(sources_.size(), fo));
    fewshot_ = std::make_unique<LiveFewShot>(std::move(f));
  }
  ReviewChoices();
  return absl::OkStatus();
}

absl::Status LinePipeline::SetDetectorChoice(const fewshot::ChoiceOptions& options) {
  FEDLOG_RETURN_IF_ERROR(options.Validate());
  choice_options_ = options;
  ReviewChoices();
  return absl::OkStatus();
}

void LinePipeline::ReviewChoices() {
  choices_pending_ = false;
  since_review_ = 0;
  for (size_t i = 0; i < sources_.size(); ++i) {
    const int source = static_cast<int>(i);
    model::LineScorer* scorer =
        model_ ? FindScorer(*model_, sources_[i].name, static_cast<size_t>(featurizer_.dim())) : nullptr;
    std::vector<fewshot::LooVerdict> verdicts;
    fewshot::Choice c;
    if (scorer != nullptr && label_free_ != nullptr && label_free_with_model_) {
      c.reason = "label-free (detect.label_free_with_model)";
    } else {
      if (scorer != nullptr && label_free_ != nullptr && choice_options_.mode == fewshot::ChoiceMode::kAuto &&
          !ChoiceVerdicts(source, scorer, &verdicts)) {
        choices_pending_ = true;
      }
      c = fewshot::ChooseDetector(choice_options_, scorer != nullptr, label_free_ != nullptr, verdicts);
    }
    if (c.model != choices_[i].model || c.reason != choices_[i].reason) {
      ++choices_version_;
      if (scorer != nullptr && label_free_ != nullptr) {  // a choice between two detectors
        FEDLOG_LOG(INFO) << "detect: source " << sources_[i].name << " scored by " << c.reason;
      }
    }
    choices_[i] = std::move(c);
  }
}

void LinePipeline::EmbedLabel(int source, const logparse::ParsedLine& parsed, int32_t template_id,
                              model::LineScorer* scorer, std::optional<features::StreamFeaturizer>* scratch) {
  Source& s = sources_[static_cast<size_t>(source)];
  if (!scratch->has_value()) *scratch = featurizer_;
  const std::string text = template_id < 0 ? std::string() : s.drain->TemplateText(template_id);
  const features::LineEvent e{s.name, parsed.content, parsed.level, parsed.time_ms, template_id, text};
  (*scratch)->Featurize(e, &features_);
  tokens_.assign(features_.tokens.begin(), features_.tokens.end());
  dense_.resize(features_.dense.size());
  for (size_t i = 0; i < dense_.size(); ++i) dense_[i] = model::SquashDense(features_.dense[i]);
  EmbedLast(source, scorer);
}

bool LinePipeline::ChoiceVerdicts(int source, model::LineScorer* scorer, std::vector<fewshot::LooVerdict>* out) {
  out->clear();
  if (fewshot_ == nullptr) return true;  // no few-shot rule to compare: no verdicts (label-free)
  std::vector<double> reference;
  double start = 0;
  if (!fewshot_->Reference(source, &reference, &start)) return false;
  std::vector<fewshot::Unit> units;
  std::vector<int> labels;
  logparse::ParsedLine parsed;
  std::optional<features::StreamFeaturizer> scratch;
  const std::vector<int64_t> tokens = tokens_;
  const std::vector<float> dense = dense_;
  const std::vector<float> embedding = embedding_;
  Source& s = sources_[static_cast<size_t>(source)];
  for (const auto& [src, line, label] : fewshot_labels_) {
    if (src != source) continue;
    s.parser->Parse(logparse::StripCr(line), &parsed);
    const logparse::DrainResult r = s.drain->Match(parsed.content);
    fewshot::Unit u;
    fewshot::AddTokens(r.template_id, parsed.content, &u);
    fewshot::Finish(&u);
    u.free_score = LiveFewShot::Squash(label_free_->PeekScore(source, parsed, *s.drain, r.template_id));
    u.free_alert = u.free_score > 0 && u.free_score >= start;
    EmbedLabel(source, parsed, r.template_id, scorer, &scratch);
    u.embedding = embedding_;
    units.push_back(std::move(u));
    labels.push_back(label > 0 ? 1 : 0);
  }
  tokens_ = tokens;  // last_tokens() / last_dense() still describe the last processed line
  dense_ = dense;
  embedding_ = embedding;
  absl::StatusOr<std::vector<fewshot::LooVerdict>> v =
      fewshot::LeaveOneOutVerdicts(units, labels, fewshot_->options(), start, reference, choice_options_.compare);
  if (v.ok()) {
    *out = std::move(*v);
  } else {
    FEDLOG_LOG(WARNING) << "detect: detector choice for " << s.name << ": " << v.status().message();
  }
  return true;
}

void LinePipeline::SetLabelFreeLabels(
    const std::vector<std::tuple<int, std::string, int>>& labels,
    const std::vector<std::tuple<int, std::string, int>>& session_verdicts) {
  if (label_free_ == nullptr) return;
  label_free_->ClearLabels();
  fewshot_labels_ = labels;
  logparse::ParsedLine parsed;
  for (const auto* given : {&labels, &session_verdicts}) {
    const bool session_only = given == &session_verdicts;
    for (const auto& [source, line, label] : *given) {
      if (source < 0 || source >= static_cast<int>(sources_.size())) continue;
      Source& s = sources_[static_cast<size_t>(source)];
      s.parser->Parse(logparse::StripCr(line), &parsed);
      const logparse::DrainResult r = s.drain->Match(parsed.content);
      // With LiveFewShot on, a line label does not move the label-free line threshold (its session
      // still counts): the few-shot rule raises its own threshold, as `eval newsite` measures it.
      label_free_->AddLabel(source, parsed, *s.drain, r.template_id, label,
                            session_only || fewshot_ != nullptr);
    }
  }
  label_free_->ApplySessionLabels();
  GiveFewShotLabels();
  ReviewChoices();
}

void LinePipeline::GiveKindSketches() {
  if (label_free_ == nullptr) return;
  for (size_t i = 0; i < sources_.size(); ++i) {
    const kinds::KindSketch* sketch = nullptr;
    if (session_kind_verdicts_ && model_ != nullptr) {
      auto it = model_->kinds.find(sources_[i].name);
      if (it != model_->kinds.end()) sketch = &it->second;
    }
    label_free_->SetKindSketch(static_cast<int>(i), sketch, kind_options_, alarm_budget_);
  }
}

void LinePipeline::SetKindAlarmBudget(const kinds::AlarmBudgetOptions& options) {
  alarm_budget_ = options;
  for (kinds::AlarmBudget& b : line_budgets_) b.SetOptions(options);
  GiveKindSketches();
}

void LinePipeline::SetModel(std::unique_ptr<DetectionModel> model) {
  model_ = std::move(model);
  for (kinds::AlarmBudget& b : line_budgets_) b.Invalidate();  // a new sketch: its budgeted kinds found again
  GiveKindSketches();  // the old model's sketches go with it
  if (fewshot_ != nullptr && label_free_with_model_ && fewshot_->wants_embeddings()) {
    fewshot_->ForgetEmbeddings();
    GiveFewShotLabels();
  }
  ReviewChoices();
}

model::LineScorer* LinePipeline::Embedder(int source) {
  if (!label_free_with_model_ || fewshot_ == nullptr || !fewshot_->wants_embeddings() || !model_) return nullptr;
  return FindScorer(*model_, sources_[static_cast<size_t>(source)].name, static_cast<size_t>(featurizer_.dim()));
}

void LinePipeline::EmbedLast(int source, model::LineScorer* scorer) {
  static const std::string kNoAdapter;
  const std::string& adapter = scorer->spec().sources.empty() ? kNoAdapter : sources_[static_cast<size_t>(source)].name;
  embedding_.resize(static_cast<size_t>(scorer->spec().out_dim));
  scorer->Embed(tokens_, dense_, adapter, embedding_.data());
}

void LinePipeline::GiveFewShotLabels() {
  since_fewshot_labels_ = 0;
  if (fewshot_ == nullptr || label_free_ == nullptr) return;
  fewshot_->Begin();
  logparse::ParsedLine parsed;
  // Labelled lines are featurized as the next lines of the stream would be, on a copy (the
  // stream's own state stays as it is), when the model embeds them.
  std::optional<features::StreamFeaturizer> scratch;
  const std::vector<int64_t> tokens = tokens_;
  const std::vector<float> dense = dense_;
  for (const auto& [source, line, label] : fewshot_labels_) {
    if (source < 0 || source >= static_cast<int>(sources_.size())) continue;
    Source& s = sources_[static_cast<size_t>(source)];
    s.parser->Parse(logparse::StripCr(line), &parsed);
    const logparse::DrainResult r = s.drain->Match(parsed.content);
    embedding_.clear();
    if (model::LineScorer* scorer = Embedder(source)) EmbedLabel(source, parsed, r.template_id, scorer, &scratch);
    fewshot_->AddLabel(source, r.template_id, parsed.content, label,
                       label_free_->PeekScore(source, parsed, *s.drain, r.template_id), embedding_);
  }
  tokens_ = tokens;  // last_tokens() / last_dense() still describe the last processed line
  dense_ = dense;
  fewshot_->End();
}

void LinePipeline::ApplyLabels(int source, int32_t template_id, double fused_score,
                               LineResult* out) {
  if (fewshot_ == nullptr) return;
  fewshot_->Observe(source, fused_score, out->alert, embedding_);
  const auto decision = fewshot_->Decide(source, template_id, parsed_.content);
  if (!decision.has_value()) {
    // No label near: the label-free decision, moved by the few-shot threshold the labels set (a
    // raised one silences, a lowered one adds alerts; the alert then shows that threshold).
    // With detect.fewshot_keep_alert_match, a label-free alert far from every normal label stands.
    const bool alert = fewshot_->Alerts(source, fused_score, out->alert, embedding_) ||
                       (out->alert && fewshot_->KeepsLabelFreeAlert(source, template_id, parsed_.content));
    if (out->alert && !alert) out->label_silenced = true;
    if (!out->alert && alert) {
      out->label_lowered = true;
      if (!fewshot_->encoder(source)) {
        out->threshold = static_cast<float>(std::min(LiveFewShot::Unsquash(fewshot_->threshold(source)), 1e30));
      }
    }
    out->alert = alert;
    return;
  }
  out->label_match = decision->label;
  out->label_silenced = out->alert && decision->label == 0;
  out->alert = decision->label == 1;
}

void LinePipeline::Process(int source, std::string_view line, LineResult* out) {
  Source& s = sources_[source];
  s.parser->Parse(logparse::StripCr(line), &parsed_);
  logparse::DrainResult r = s.drain->Match(parsed_.content);
  out->new_template = r.template_id < 0;
  if (out->new_template) r = s.drain->Add(parsed_.content);
  if (r.created || r.changed) {
    // A learnt line can generalise a template (and merge others): drop cached texts.
    s.template_text.clear();
  }
  out->template_id = r.template_id;
  out->header_matched = parsed_.matched;
  out->time_ms = parsed_.time_ms;
  features::LineEvent e{s.name,          parsed_.content, parsed_.level,
                        parsed_.time_ms, r.template_id,   TemplateText(source, r.template_id)};
  featurizer_.Featurize(e, &features_);
  tokens_.assign(features_.tokens.begin(), features_.tokens.end());
  dense_.resize(features_.dense.size());
  for (size_t i = 0; i < dense_.size(); ++i) dense_[i] = model::SquashDense(features_.dense[i]);
  out->score = -1;
  out->alert = false;
  out->signals = 0;
  out->label_match = -1;
  out->label_silenced = false;
  out->label_lowered = false;
  out->model_scored = false;
  out->kind_verdict = 0;
  out->kind_withheld = false;
  auto* scorer = model_ ? FindScorer(*model_, s.name, dense_.size()) : nullptr;
  if (choices_pending_ && ++since_review_ >= LiveFewShot::kRefitLines) ReviewChoices();
  // The label-free detector scores the source unless the model has a scorer for it and the detector
  // choice gave it the model (label_free_with_model keeps it label-free: ReviewChoices).
  const bool model_scores =
      scorer != nullptr && (label_free_ == nullptr || choices_[static_cast<size_t>(source)].model);
  // The message kind, once per line, only when a kind rule will use it (it costs 4-8% of the line's time,
  // docs/BENCHMARKS.md "What per-line kind signatures cost"): the line verdict needs the model's counts for
  // the source; label-free sessions collect their kinds before any model brings counts, so that a session
  // open at a model swap is judged on all its lines.
  const bool kind_for_line = kind_verdicts_ && model_ != nullptr && model_->kinds.count(s.name) > 0;
  const bool kind_for_sessions = session_kind_verdicts_ && label_free_ != nullptr && !model_scores;
  line_kind_ = kind_for_line || kind_for_sessions ? kinds::KindSignature(parsed_.content) : std::nullopt;
  if (!model_scores) {
    if (label_free_ != nullptr) {
      embedding_.clear();
      if (model::LineScorer* embedder = Embedder(source)) EmbedLast(source, embedder);
      const novelty::LineScore ls =
          label_free_->Score(source, parsed_, *s.drain, r.template_id,
                             session_kind_verdicts_ ? line_kind_ : std::nullopt);
      out->score = static_cast<float>(ls.score);
      out->threshold = static_cast<float>(std::min(ls.threshold, 1e30));
      out->alert = ls.alert;
      out->signals = ls.fired;
      ApplyLabels(source, r.template_id, ls.score, out);
      if (fewshot_ != nullptr && !fewshot_labels_.empty() &&
          ++since_fewshot_labels_ >= LiveFewShot::kRefitLines) {
        GiveFewShotLabels();
      }
      ApplyKindVerdict(source, out);
    }
    return;
  }
  static const std::string kNoAdapter;
  const std::string& adapter = scorer->spec().sources.empty() ? kNoAdapter : s.name;
  out->score = scorer->Score(tokens_, dense_, adapter);
  out->threshold = model_->thresholds[s.name];
  out->alert = out->score >= out->threshold;
  out->model_scored = true;
  ApplyKindVerdict(source, out);
}

kinds::AlarmBudget& LinePipeline::LineBudget(int source) {
  if (line_budgets_.size() != sources_.size()) line_budgets_.resize(sources_.size(), kinds::AlarmBudget(alarm_budget_));
  return line_budgets_[static_cast<size_t>(source)];
}

void LinePipeline::ApplyKindVerdict(int source, LineResult* out) {
  if (!kind_verdicts_) return;
  kinds::AlarmBudget& budget = LineBudget(source);
  // Every line counts in the source's alarm budget, decided by labels or not; a line the site's own detector
  // alerted or its labels decide is one no verdict alone could alert.
  if (line_kind_) {
    budget.Count(*line_kind_, out->alert || out->label_match >= 0);
  } else {
    budget.CountUnit();
  }
  if (model_ == nullptr || out->label_match >= 0 || out->score < 0) return;
  auto it = model_->kinds.find(sources_[static_cast<size_t>(source)].name);
  if (it == model_->kinds.end()) return;
  if (!line_kind_) return;
  const kinds::KindVerdict v = it->second.VerdictOf(*line_kind_, kind_options_);
  if (v == kinds::KindVerdict::kAnomalous && !out->alert && !budget.Allows(*line_kind_, it->second, kind_options_)) {
    out->kind_withheld = true;  // the verdict alone would raise it, past the budget
    return;
  }
  if (v == kinds::KindVerdict::kAnomalous) {
    out->alert = true;
    out->label_silenced = false;
    out->kind_verdict = 1;
  } else if (v == kinds::KindVerdict::kNormal) {
    out->alert = false;
    out->label_lowered = false;
    out->kind_verdict = -1;
  }
}

}  // namespace fedlog::client::detect
