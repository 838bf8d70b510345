// The operator's verdicts a site daemon counts in its message-kind upload (client/site_kinds.h,
// docs/LABELING.md "What the federation learns from your verdicts"): the rows of the site's labels store
// (data_dir/detect.db, client/detect/detect_store.h) that operators gave with `fedlog feedback` and
// `fedlog label` (origins "feedback:..." and "session:...", client/detect/label_verdicts.h). The rows the
// detector imported from the configured labels files ("labels_file:...", "labels:...") are not verdicts:
// the daemon counts those files directly. Reads only; thread-safe (stateless).
#ifndef FEDLOG_CLIENT_SITE_VERDICTS_H_
#define FEDLOG_CLIENT_SITE_VERDICTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/site_kinds.h"

namespace fedlog::client {

// The verdicts stored in `detect_db`, per source, oldest first. An empty map when the file does not exist
// (no detector or labelling tool has run at the site). An error naming the file when it cannot be opened or
// read (not a database, a damaged one, no permission): the caller decides whether that stops anything.
absl::StatusOr<std::map<std::string, std::vector<OperatorVerdict>>> ReadOperatorVerdicts(
    const std::string& detect_db);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_VERDICTS_H_
