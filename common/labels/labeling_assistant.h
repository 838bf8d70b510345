// Labelling assistant: proposes a label for a parsed log line from three kinds of evidence,
// strongest first:
//   1. operator feedback on the line's template (confirm -> anomalous, false positive -> normal),
//      provenance "operator"; it overrides everything below, for every line of that template;
//   2. the first matching rule of the pattern library, on the line content, provenance
//   "rule:<name>";
//   3. fuzzy transfer: the most similar known anomalous template (TemplateSimilarity >=
//   fuzzy_threshold),
//      provenance "fuzzy:<template id>" (earliest added wins ties).
// No evidence -> no suggestion (the line stays unlabelled; absence of a rule hit is not evidence of
// normality). Confirmed templates join the known anomalous templates; a false positive removes its
// template from them. Fuzzy lookup is O(#known templates * tokens^2) per call. Thread-safety:
// thread-safe; feedback and templates are guarded by an internal mutex, suggestions take a shared
// lock.
#ifndef FEDLOG_COMMON_LABELS_LABELING_ASSISTANT_H_
#define FEDLOG_COMMON_LABELS_LABELING_ASSISTANT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/labels/label.h"
#include "common/labels/pattern_library.h"

namespace fedlog::labels {

struct LabelingOptions {
  double fuzzy_threshold = 0.8;  // minimum TemplateSimilarity for fuzzy transfer, in (0, 1]
};

// The parts of a parsed line the assistant looks at.
struct LogRecord {
  std::string template_id;    // e.g. Drain cluster / EventId; feedback is keyed by it
  std::string template_text;  // e.g. "Failed password for <*> from <*> port <*> ssh2"
  std::string content;        // the message; rules match on it (on template_text when it is empty)
};

enum class Feedback { kConfirm, kFalsePositive };

struct FuzzyMatch {
  std::string template_id;
  std::string anomaly_type;
  double similarity = 0;
};

class LabelingAssistant {
 public:
  explicit LabelingAssistant(PatternLibrary library, LabelingOptions options = {});

  // Registers (or replaces) a template known to be anomalous, e.g. from another source's ground
  // truth. InvalidArgument when any argument is empty.
  absl::Status AddAnomalousTemplate(const std::string& template_id,
                                    const std::string& template_text,
                                    const std::string& anomaly_type);

  // Records an operator decision for record.template_id (must be non-empty). A confirmation takes
  // `anomaly_type`, or else the type the rules / fuzzy transfer propose; InvalidArgument when
  // neither gives one. Later feedback on the same template replaces earlier feedback.
  absl::Status RecordFeedback(const LogRecord& record, Feedback feedback,
                              const std::string& anomaly_type = "");

  // The strongest available label, or nullopt when there is no evidence.
  std::optional<Label> Suggest(const LogRecord& record) const;

  // Best known anomalous template at or above the threshold, or nullopt.
  std::optional<FuzzyMatch> BestFuzzyMatch(absl::string_view template_text) const;

 private:
  struct KnownTemplate {
    std::string id, text, anomaly_type;
  };
  struct OperatorDecision {
    bool anomalous = false;
    std::string anomaly_type;
  };

  std::optional<Label> SuggestWithoutOperator(const LogRecord& record) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::optional<FuzzyMatch> BestFuzzyMatchLocked(absl::string_view template_text) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void UpsertTemplateLocked(KnownTemplate t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PatternLibrary library_;
  const LabelingOptions options_;
  mutable absl::Mutex mu_;
  std::vector<KnownTemplate> known_ ABSL_GUARDED_BY(mu_);  // insertion order decides ties
  absl::flat_hash_map<std::string, OperatorDecision> decisions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_LABELING_ASSISTANT_H_
