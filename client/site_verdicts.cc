#include "client/site_verdicts.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/detect/detect_store.h"
#include "client/detect/label_verdicts.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::client {

absl::StatusOr<std::map<std::string, std::vector<OperatorVerdict>>> ReadOperatorVerdicts(
    const std::string& detect_db) {
  std::map<std::string, std::vector<OperatorVerdict>> out;
  if (!FileExists(detect_db)) return out;
  absl::StatusOr<std::unique_ptr<detect::DetectStore>> store = detect::DetectStore::Open(detect_db);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("operator verdicts: cannot open ", detect_db, ": ", store.status().message()));
  }
  absl::StatusOr<std::vector<detect::LabeledLine>> labels = (*store)->LoadLabels("");
  if (!labels.ok()) {
    return absl::Status(labels.status().code(),
                        absl::StrCat("operator verdicts: cannot read ", detect_db, ": ", labels.status().message()));
  }
  for (detect::LabeledLine& l : *labels) {
    const bool session = detect::IsSessionVerdict(l);
    if (!session && !absl::StartsWith(l.origin, "feedback:")) continue;  // an imported labels file's row
    out[l.source].push_back({std::move(l.line), l.label, session});
  }
  return out;
}

}  // namespace fedlog::client
