#include "common/labels/hdfs_labels.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/labels/csv.h"

namespace fedlog::labels {
namespace {

constexpr absl::string_view kBlockPrefix = "blk_";

// Length of the block id starting at `pos` (which holds "blk_"), or 0 when no digit follows.
size_t BlockIdLength(absl::string_view text, size_t pos) {
  size_t i = pos + kBlockPrefix.size();
  if (i < text.size() && text[i] == '-') ++i;
  const size_t digits_start = i;
  while (i < text.size() && absl::ascii_isdigit(text[i])) ++i;
  return i == digits_start ? 0 : i - pos;
}

}  // namespace

bool IsBlockId(absl::string_view token) {
  return token.substr(0, kBlockPrefix.size()) == kBlockPrefix &&
         BlockIdLength(token, 0) == token.size();
}

std::vector<absl::string_view> ExtractBlockIds(absl::string_view line) {
  std::vector<absl::string_view> ids;
  for (size_t pos = line.find(kBlockPrefix); pos != absl::string_view::npos;
       pos = line.find(kBlockPrefix, pos + 1)) {
    const size_t len = BlockIdLength(line, pos);
    if (len == 0) continue;
    const absl::string_view id = line.substr(pos, len);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::vector<BlockLabel>> ParseHdfsBlockLabels(absl::string_view csv_text) {
  FEDLOG_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(csv_text));
  FEDLOG_ASSIGN_OR_RETURN(size_t id_col, table.Column("BlockId"));
  FEDLOG_ASSIGN_OR_RETURN(size_t label_col, table.Column("Label"));
  std::vector<BlockLabel> out;
  absl::flat_hash_set<std::string> seen;
  for (const CsvRow& row : table.rows) {
    const std::string& id = row.fields[id_col];
    const std::string& label = row.fields[label_col];
    if (!IsBlockId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", row.line, ": bad block id \"", id, "\""));
    }
    if (label != "Normal" && label != "Anomaly") {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", row.line, ": label \"", label, "\" is neither Normal nor Anomaly"));
    }
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", row.line, ": block ", id, " listed twice"));
    }
    out.push_back(BlockLabel{id, label == "Anomaly", row.line});
  }
  return out;
}

absl::StatusOr<std::vector<BlockLabel>> ReadHdfsBlockLabels(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::vector<BlockLabel>> labels = ParseHdfsBlockLabels(text);
  if (!labels.ok()) return Annotate(labels.status(), path);
  return labels;
}

Label ToLabel(const BlockLabel& block) {
  return GroundTruthLabel(block.anomalous, block.anomalous ? "Anomaly" : "");
}

}  // namespace fedlog::labels
