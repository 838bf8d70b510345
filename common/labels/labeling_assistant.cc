#include "common/labels/labeling_assistant.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/labels/template_similarity.h"

namespace fedlog::labels {

LabelingAssistant::LabelingAssistant(PatternLibrary library, LabelingOptions options)
    : library_(std::move(library)), options_(options) {}

absl::Status LabelingAssistant::AddAnomalousTemplate(const std::string& template_id,
                                                     const std::string& template_text,
                                                     const std::string& anomaly_type) {
  if (template_id.empty() || template_text.empty() || anomaly_type.empty()) {
    return absl::InvalidArgumentError("template id, text and anomaly type must all be set");
  }
  absl::MutexLock lock(&mu_);
  UpsertTemplateLocked(KnownTemplate{template_id, template_text, anomaly_type});
  return absl::OkStatus();
}

void LabelingAssistant::UpsertTemplateLocked(KnownTemplate t) {
  auto it = std::find_if(known_.begin(), known_.end(),
                         [&](const KnownTemplate& k) { return k.id == t.id; });
  if (it != known_.end()) {
    *it = std::move(t);
  } else {
    known_.push_back(std::move(t));
  }
}

absl::Status LabelingAssistant::RecordFeedback(const LogRecord& record, Feedback feedback,
                                               const std::string& anomaly_type) {
  if (record.template_id.empty()) {
    return absl::InvalidArgumentError("feedback needs the record's template id");
  }
  absl::MutexLock lock(&mu_);
  if (feedback == Feedback::kFalsePositive) {
    decisions_[record.template_id] = OperatorDecision{false, ""};
    std::erase_if(known_, [&](const KnownTemplate& k) { return k.id == record.template_id; });
    return absl::OkStatus();
  }
  std::string type = anomaly_type;
  if (type.empty()) {
    std::optional<Label> proposed = SuggestWithoutOperator(record);
    if (proposed.has_value()) type = proposed->anomaly_type;
  }
  if (type.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("confirming template ", record.template_id,
                     " needs an anomaly type (no rule or match gives one)"));
  }
  decisions_[record.template_id] = OperatorDecision{true, type};
  if (!record.template_text.empty()) {
    UpsertTemplateLocked(KnownTemplate{record.template_id, record.template_text, type});
  }
  return absl::OkStatus();
}

std::optional<Label> LabelingAssistant::Suggest(const LogRecord& record) const {
  absl::ReaderMutexLock lock(&mu_);
  if (auto it = decisions_.find(record.template_id);
      !record.template_id.empty() && it != decisions_.end()) {
    return Label{it->second.anomalous, it->second.anomaly_type,
                 Provenance{LabelOrigin::kOperator, ""}};
  }
  return SuggestWithoutOperator(record);
}

std::optional<Label> LabelingAssistant::SuggestWithoutOperator(const LogRecord& record) const {
  const std::string& text = record.content.empty() ? record.template_text : record.content;
  if (std::optional<RuleMatch> rule = library_.FirstMatch(text); rule.has_value()) {
    return Label{true, rule->anomaly_type, Provenance{LabelOrigin::kRule, rule->rule}};
  }
  if (record.template_text.empty()) return std::nullopt;
  if (std::optional<FuzzyMatch> fuzzy = BestFuzzyMatchLocked(record.template_text)) {
    return Label{true, fuzzy->anomaly_type, Provenance{LabelOrigin::kFuzzy, fuzzy->template_id}};
  }
  return std::nullopt;
}

std::optional<FuzzyMatch> LabelingAssistant::BestFuzzyMatch(absl::string_view template_text) const {
  absl::ReaderMutexLock lock(&mu_);
  return BestFuzzyMatchLocked(template_text);
}

std::optional<FuzzyMatch> LabelingAssistant::BestFuzzyMatchLocked(
    absl::string_view template_text) const {
  std::optional<FuzzyMatch> best;
  for (const KnownTemplate& k : known_) {
    const double s = TemplateSimilarity(template_text, k.text);
    if (s >= options_.fuzzy_threshold && (!best || s > best->similarity)) {
      best = FuzzyMatch{k.id, k.anomaly_type, s};
    }
  }
  return best;
}

}  // namespace fedlog::labels
