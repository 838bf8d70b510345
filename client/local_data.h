// LocalData: a site's own log lines, read from its configured sources, featurized, and split into a training
// part and a held-out part for local evaluation. Raw lines never leave this object (only model updates leave
// the site). Thread-compatible.
#ifndef FEDLOG_CLIENT_LOCAL_DATA_H_
#define FEDLOG_CLIENT_LOCAL_DATA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "fedlog/v1/config.pb.h"

namespace fedlog::client {

struct SourceLines {
  std::string name;
  std::string format;
  std::vector<std::string> contents;  // model input per line: "level component content" (the whole line when
                                      // the header is unknown)
  int64_t templates = 0;              // distinct Drain templates among the lines
  int64_t unmatched = 0;              // lines whose header did not match the format (kept whole, counted)
  std::vector<std::string> raw;       // the lines as read, in file order (the line encoder parses them itself)
  std::vector<int> labels;            // empty without a labels file; else per line: -1 unlabeled, 0 normal,
                                      // >= 1 anomalous (LogSourceConfig.labels)
};

// Parses raw lines with the named log format (common/logparse) and mines their templates with Drain. This is
// the one place lines become model input, shared by training and scoring. InvalidArgument for unknown formats.
absl::StatusOr<SourceLines> ParseSourceLines(const std::string& name, const std::string& format,
                                             const std::vector<std::string>& raw_lines);

// Reads every configured source, and its labels file when one is named. NotFound / PermissionDenied name the
// file; an empty source, or a labels file that labels none of the lines read, is an error.
absl::StatusOr<std::vector<SourceLines>> ReadSources(const v1::ClientConfig& config);

struct LocalDataset {
  DenseMatrix train;
  DenseMatrix holdout;
  int64_t distinct_templates = 0;
};

// Featurizes all sources with `input_dim` features per line and holds out `holdout_percent` of the rows,
// chosen by a seeded shuffle.
LocalDataset BuildDataset(const std::vector<SourceLines>& sources, int input_dim, int holdout_percent,
                          uint64_t seed);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_LOCAL_DATA_H_
