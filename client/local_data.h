// LocalData: a site's own log lines, read from its configured sources and parsed. Each network featurizes and
// splits them itself (common/model/site_model.h). Raw lines never leave the site (only model updates do).
// Thread-compatible.
#ifndef FEDLOG_CLIENT_LOCAL_DATA_H_
#define FEDLOG_CLIENT_LOCAL_DATA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/model/site_lines.h"
#include "fedlog/v1/config.pb.h"

namespace fedlog::client {

// The struct lives with the models that read it (common/model/site_lines.h).
using SourceLines = model::SourceLines;

// Parses raw lines with the named log format (common/logparse) and mines their templates with Drain. This is
// the one place lines become model input, shared by training and scoring. InvalidArgument for unknown formats.
absl::StatusOr<SourceLines> ParseSourceLines(const std::string& name, const std::string& format,
                                             const std::vector<std::string>& raw_lines);

// Reads every configured source, and its labels file when one is named. NotFound / PermissionDenied name the
// file; an empty source, or a labels file that labels none of the lines read, is an error.
absl::StatusOr<std::vector<SourceLines>> ReadSources(const v1::ClientConfig& config);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_LOCAL_DATA_H_
