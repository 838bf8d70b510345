// Detector's labels (client/detect/detector.h): the configured labels (labels_file, labeled_logs) stored
// once at start, and the store's labels given again to the label-free threshold and the few-shot support
// when they change. Split from detector.cc, which keeps the threads, the model and the batch loop.
#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/detect/detector.h"
#include "client/detect/label_verdicts.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/labels/csv.h"
#include "common/logparse/line_reader.h"

namespace fedlog::client::detect {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

// CSV with columns source,label,line: the site's own labeled lines, featurized in file order per
// source (as a stream), stored once (origin "labels_file:<row>").
absl::Status Detector::ImportLabelsFile() {
  if (options_.labels_file.empty()) return absl::OkStatus();
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(options_.labels_file));
  FEDLOG_ASSIGN_OR_RETURN(labels::CsvTable csv, labels::ParseCsv(text));
  FEDLOG_ASSIGN_OR_RETURN(size_t src_col, csv.Column("source"));
  FEDLOG_ASSIGN_OR_RETURN(size_t label_col, csv.Column("label"));
  FEDLOG_ASSIGN_OR_RETURN(size_t line_col, csv.Column("line"));
  FEDLOG_ASSIGN_OR_RETURN(auto fresh, LinePipeline::Create(options_.sources));
  for (const labels::CsvRow& row : csv.rows) {
    int source = -1;
    for (size_t i = 0; i < options_.sources.size(); ++i) {
      if (options_.sources[i].name == row.fields[src_col]) source = static_cast<int>(i);
    }
    int label = 0;
    if (source < 0 || !absl::SimpleAtoi(row.fields[label_col], &label)) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.labels_file, ":", row.line, ": unknown source or bad label"));
    }
    LineResult r;
    fresh->Process(source, row.fields[line_col], &r);
    FEDLOG_RETURN_IF_ERROR(store_->AddLabel(
        {row.fields[src_col], row.fields[line_col], label > 0 ? 1 : 0, fresh->last_tokens(),
         fresh->last_dense(), absl::StrCat("labels_file:", row.line)},
        NowMs()));
  }
  return absl::OkStatus();
}

// The labeled lines of each labeled log, featurized as a stream (its lines in order, as training
// sees them); stored once per line (origin "labels:<path>:<line>", replaced on the next start).
absl::Status Detector::ImportLabeledLogs() {
  for (const LabeledLog& log : options_.labeled_logs) {
    const int source = SourceIndex(log.source);
    if (source < 0 || log.labels.empty()) continue;
    FEDLOG_ASSIGN_OR_RETURN(std::string text, logparse::ReadLogFile(log.path));
    const std::vector<std::string_view> lines = logparse::SplitLines(text);
    FEDLOG_ASSIGN_OR_RETURN(auto fresh, LinePipeline::Create(options_.sources));
    const int64_t last =
        std::min<int64_t>(log.labels.rbegin()->first, static_cast<int64_t>(lines.size()));
    LineResult r;
    int64_t imported = 0;
    for (int64_t k = 1; k <= last; ++k) {
      fresh->Process(source, lines[static_cast<size_t>(k - 1)], &r);
      auto it = log.labels.find(k);
      if (it == log.labels.end()) continue;
      FEDLOG_RETURN_IF_ERROR(store_->AddLabel(
          {log.source, std::string(lines[static_cast<size_t>(k - 1)]), it->second > 0 ? 1 : 0,
           fresh->last_tokens(), fresh->last_dense(), absl::StrCat("labels:", log.path, ":", k)},
          NowMs()));
      ++imported;
    }
    FEDLOG_LOG(INFO) << "detect: " << imported << " labeled line(s) of " << log.path
                     << " as support for " << log.source;
  }
  return absl::OkStatus();
}

// The label-free threshold and the few-shot support (LiveFewShot) follow the site's labels (feedback
// verdicts, `fedlog label`, the labels file): when the store's label version changed, its labels are
// given again. Checked at most once per poll interval, on the scoring thread.
void Detector::SyncLabelFreeLabels(int64_t now_ms) {
  if (!pipeline_->label_free() || now_ms - last_label_sync_ms_ < options_.poll_interval_ms) return;
  last_label_sync_ms_ = now_ms;
  absl::StatusOr<int64_t> version = store_->LabelsVersion();
  if (!version.ok() || *version == label_free_labels_version_) return;
  absl::StatusOr<std::vector<LabeledLine>> labels = store_->LoadLabels("");
  if (!labels.ok()) return;  // retried at the next check
  std::vector<std::tuple<int, std::string, int>> given, sessions;
  for (const LabeledLine& l : *labels) {
    const int source = SourceIndex(l.source);
    if (source >= 0) (IsSessionVerdict(l) ? sessions : given).emplace_back(source, l.line, l.label);
  }
  pipeline_->SetLabelFreeLabels(given, sessions);
  label_free_labels_version_ = *version;
  FEDLOG_LOG(INFO) << "detect: label-free threshold and few-shot labels use " << given.size()
                   << " labelled line(s), the sessions " << sessions.size() << " session verdict(s)";
}

}  // namespace fedlog::client::detect
