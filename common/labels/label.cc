#include "common/labels/label.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fedlog::labels {

std::string Provenance::ToString() const {
  switch (origin) {
    case LabelOrigin::kGroundTruth:
      return "ground_truth";
    case LabelOrigin::kRule:
      return absl::StrCat("rule:", ref);
    case LabelOrigin::kFuzzy:
      return absl::StrCat("fuzzy:", ref);
    case LabelOrigin::kOperator:
      return "operator";
  }
  return "unknown";
}

absl::StatusOr<Provenance> Provenance::Parse(absl::string_view text) {
  if (text == "ground_truth") return Provenance{LabelOrigin::kGroundTruth, ""};
  if (text == "operator") return Provenance{LabelOrigin::kOperator, ""};
  for (auto [prefix, origin] :
       {std::pair{"rule:", LabelOrigin::kRule}, std::pair{"fuzzy:", LabelOrigin::kFuzzy}}) {
    if (absl::StartsWith(text, prefix) && text.size() > absl::string_view(prefix).size()) {
      return Provenance{origin, std::string(text.substr(absl::string_view(prefix).size()))};
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown label provenance \"", text, "\""));
}

Label GroundTruthLabel(bool anomalous, std::string anomaly_type) {
  return Label{anomalous, std::move(anomaly_type), Provenance{LabelOrigin::kGroundTruth, ""}};
}

}  // namespace fedlog::labels
