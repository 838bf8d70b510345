#include "client/detect/label_verdicts.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"

namespace fedlog::client::detect {

std::string LineVerdictOrigin(const std::string& source, std::string_view line) {
  return absl::StrCat(kLineVerdictPrefix, source, ":",
                      Sha256Hex(absl::string_view(line.data(), line.size())));
}

std::string TemplateVerdictOrigin(const std::string& source, std::string_view template_text) {
  return absl::StrCat(kTemplateVerdictPrefix, source, ":",
                      absl::string_view(template_text.data(), template_text.size()));
}

std::string SessionVerdictOrigin(const std::string& source, std::string_view line) {
  return absl::StrCat(kSessionVerdictPrefix, source, ":",
                      Sha256Hex(absl::string_view(line.data(), line.size())));
}

bool IsSessionVerdict(const LabeledLine& label) {
  return absl::StartsWith(label.origin, kSessionVerdictPrefix);
}

void SplitSessionVerdicts(std::vector<LabeledLine>* labels, std::vector<LabeledLine>* sessions) {
  std::vector<LabeledLine> lines;
  for (LabeledLine& l : *labels) {
    if (!IsSessionVerdict(l)) {
      lines.push_back(std::move(l));
    } else if (sessions != nullptr) {
      sessions->push_back(std::move(l));
    }
  }
  *labels = std::move(lines);
}

active::NormalTemplates NormalTemplatesFromLabels(const std::vector<LabeledLine>& labels) {
  active::NormalTemplates normal;
  for (const LabeledLine& l : labels) {
    const std::string_view origin = l.origin, prefix = kTemplateVerdictPrefix;
    if (l.label != 0 || origin.substr(0, prefix.size()) != prefix) continue;
    // The source is the labeled line's own; the text follows "<source>:".
    const std::string_view rest = origin.substr(prefix.size());
    if (rest.size() <= l.source.size() || rest.substr(0, l.source.size()) != l.source ||
        rest[l.source.size()] != ':')
      continue;
    normal.Add(l.source, std::string(rest.substr(l.source.size() + 1)));
  }
  return normal;
}

}  // namespace fedlog::client::detect
