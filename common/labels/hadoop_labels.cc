#include "common/labels/hadoop_labels.h"

#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::labels {
namespace {

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// "application_<digits>_<digits>" -> true.
bool IsApplicationId(absl::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '_');
  return parts.size() == 3 && parts[0] == "application" && AllDigits(parts[1]) &&
         AllDigits(parts[2]);
}

std::optional<HadoopFault> FaultFromHeading(absl::string_view heading) {
  const std::string h = absl::AsciiStrToLower(heading);
  if (h == "normal") return HadoopFault::kNormal;
  if (h == "machine down") return HadoopFault::kMachineDown;
  if (h == "network disconnection") return HadoopFault::kNetworkDisconnection;
  if (h == "disk full") return HadoopFault::kDiskFull;
  return std::nullopt;
}

// Parser state while walking the file.
struct Section {
  std::string workload;  // empty before the first "###"
  std::optional<HadoopFault> fault;
};

absl::Status ParseLine(absl::string_view line, int64_t number, Section& section,
                       absl::flat_hash_set<std::string>& seen, std::vector<HadoopAppLabel>& out) {
  auto error = [number](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", what));
  };
  if (absl::ConsumePrefix(&line, "###")) {
    section.workload = std::string(absl::StripAsciiWhitespace(line));
    section.fault.reset();
    if (section.workload.empty()) return error("workload heading without a name");
    return absl::OkStatus();
  }
  if (section.workload.empty() || line.empty()) return absl::OkStatus();  // preamble or blank
  if (absl::ConsumePrefix(&line, "+")) {
    const std::string id(absl::StripAsciiWhitespace(line));
    if (!section.fault) return error("application listed before a fault heading");
    if (!IsApplicationId(id)) return error(absl::StrCat("bad application id \"", id, "\""));
    if (!seen.insert(id).second) return error(absl::StrCat(id, " listed twice"));
    out.push_back(HadoopAppLabel{id, section.workload, *section.fault, number});
    return absl::OkStatus();
  }
  if (absl::ConsumeSuffix(&line, ":")) {
    section.fault = FaultFromHeading(line);
    if (!section.fault) return error(absl::StrCat("unknown fault heading \"", line, "\""));
    return absl::OkStatus();
  }
  return error(absl::StrCat("unexpected text \"", line, "\""));
}

}  // namespace

absl::string_view HadoopFaultName(HadoopFault fault) {
  switch (fault) {
    case HadoopFault::kNormal:
      return "normal";
    case HadoopFault::kMachineDown:
      return "machine_down";
    case HadoopFault::kNetworkDisconnection:
      return "network_disconnection";
    case HadoopFault::kDiskFull:
      return "disk_full";
  }
  return "unknown";
}

absl::StatusOr<std::vector<HadoopAppLabel>> ParseHadoopAppLabels(absl::string_view text) {
  std::vector<HadoopAppLabel> out;
  absl::flat_hash_set<std::string> seen;
  Section section;
  int64_t number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    FEDLOG_RETURN_IF_ERROR(ParseLine(absl::StripAsciiWhitespace(line), number, section, seen, out));
  }
  if (out.empty()) return absl::InvalidArgumentError("no application labels found");
  return out;
}

absl::StatusOr<std::vector<HadoopAppLabel>> ReadHadoopAppLabels(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::vector<HadoopAppLabel>> labels = ParseHadoopAppLabels(text);
  if (!labels.ok()) return Annotate(labels.status(), path);
  return labels;
}

absl::StatusOr<std::string> ApplicationIdFromContainerPath(absl::string_view path) {
  std::vector<absl::string_view> components = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (!components.empty()) {
    absl::string_view file = components.back();
    file = file.substr(0, file.find('.'));
    std::vector<absl::string_view> parts = absl::StrSplit(file, '_');
    // container_[e<epoch>_]<ts>_<seq>_<attempt>_<n>
    if (parts.size() == 6 && parts[1].size() > 1 && parts[1][0] == 'e' &&
        AllDigits(parts[1].substr(1))) {
      parts.erase(parts.begin() + 1);
    }
    if (parts.size() == 5 && parts[0] == "container" && AllDigits(parts[1]) &&
        AllDigits(parts[2]) && AllDigits(parts[3]) && AllDigits(parts[4])) {
      return absl::StrCat("application_", parts[1], "_", parts[2]);
    }
  }
  for (auto it = components.rbegin(); it != components.rend(); ++it) {
    if (IsApplicationId(*it)) return std::string(*it);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no container or application id in path \"", path, "\""));
}

Label ToLabel(const HadoopAppLabel& app) {
  return GroundTruthLabel(app.anomalous(),
                          app.anomalous() ? std::string(HadoopFaultName(app.fault)) : "");
}

}  // namespace fedlog::labels
