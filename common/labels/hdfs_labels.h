// HDFS session ground truth: one label per block (BlockId,Label with Label "Normal" or "Anomaly",
// the format of loghub's anomaly_label.csv), and block-id extraction for grouping raw HDFS lines
// into block sessions. Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_LABELS_HDFS_LABELS_H_
#define FEDLOG_COMMON_LABELS_HDFS_LABELS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/labels/label.h"

namespace fedlog::labels {

struct BlockLabel {
  std::string block_id;  // "blk_-123..." as it appears in the log
  bool anomalous = false;
  int64_t line = 0;  // line of the label file
};

// Rows in file order. InvalidArgument (with the line) for malformed CSV, a label other than Normal
// / Anomaly, a malformed block id, or a block listed twice; NotFound when the BlockId or Label
// column is missing.
absl::StatusOr<std::vector<BlockLabel>> ParseHdfsBlockLabels(absl::string_view csv_text);
absl::StatusOr<std::vector<BlockLabel>> ReadHdfsBlockLabels(const std::string& path);

// True for "blk_" followed by an optional '-' and one or more digits, and nothing else.
bool IsBlockId(absl::string_view token);

// Every distinct match of blk_-?[0-9]+ in `line`, in order of first appearance. Views point into
// `line`.
std::vector<absl::string_view> ExtractBlockIds(absl::string_view line);

// The same block id as a session key for the label-free detector (novelty::EventOptions::session_pattern,
// detect.session_pattern): a line's session is the first block id it mentions.
inline constexpr char kBlockIdSessionPattern[] = "(blk_-?[0-9]+)";

Label ToLabel(const BlockLabel& block);  // anomaly type "Anomaly" when anomalous

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_HDFS_LABELS_H_
