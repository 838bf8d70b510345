// The label every reader and the labelling assistant hand out: anomalous or not, the anomaly type,
// and where the decision came from. Provenance renders as "ground_truth", "rule:<rule name>",
// "fuzzy:<template id>" or "operator", so stored labels can be audited and re-derived when rules
// change. Thread-safety: plain value types.
#ifndef FEDLOG_COMMON_LABELS_LABEL_H_
#define FEDLOG_COMMON_LABELS_LABEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedlog::labels {

enum class LabelOrigin { kGroundTruth, kRule, kFuzzy, kOperator };

struct Provenance {
  LabelOrigin origin = LabelOrigin::kGroundTruth;
  std::string ref;  // rule name (kRule) or template id (kFuzzy); empty otherwise

  std::string ToString() const;
  // Inverse of ToString. InvalidArgument for unknown origins or a missing / unexpected reference.
  static absl::StatusOr<Provenance> Parse(absl::string_view text);
  bool operator==(const Provenance&) const = default;
};

struct Label {
  bool anomalous = false;
  std::string anomaly_type;  // e.g. "security_anomaly", "KERNDTLB", "disk_full"; empty when normal
  Provenance provenance;
  bool operator==(const Label&) const = default;
};

// A ground-truth label (provenance "ground_truth").
Label GroundTruthLabel(bool anomalous, std::string anomaly_type);

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_LABEL_H_
