// Batch helpers around StreamFeaturizer for training and offline evaluation: they run the very same
// streaming code over a recorded sequence, so a model trained on their output sees exactly what the
// live detector will compute. FeaturizeLog also does the parsing: header (LineParser) then Drain in
// learning mode, one line at a time, as a site daemon does. Thread-compatible: the featurizer and
// Drain passed in are mutated; use them from one thread.
#ifndef FEDLOG_COMMON_FEATURES_BATCH_FEATURIZER_H_
#define FEDLOG_COMMON_FEATURES_BATCH_FEATURIZER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/base/dense_matrix.h"
#include "common/features/stream_featurizer.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"

namespace fedlog::features {

struct FeaturizedBatch {
  DenseMatrix dense;                         // one row per line, featurizer->dim() columns
  std::vector<std::vector<int32_t>> tokens;  // semantic token ids per line
  std::vector<int32_t> template_ids;  // per line (FeaturizeLog; copied from the events otherwise)
};

// Featurizes `events` in order with `featurizer` (whose state carries over from earlier calls).
FeaturizedBatch FeaturizeBatch(StreamFeaturizer* featurizer, absl::Span<const LineEvent> events);

// Parses each raw line with `parser`, learns its template with `drain`, and featurizes it under
// `source`. Appends to `out` (so several files can share one batch). InvalidArgument when `out`
// holds rows of another width.
absl::Status FeaturizeLog(const logparse::LineParser& parser, logparse::Drain* drain,
                          StreamFeaturizer* featurizer, std::string_view source,
                          absl::Span<const std::string_view> lines, FeaturizedBatch* out);

}  // namespace fedlog::features

#endif  // FEDLOG_COMMON_FEATURES_BATCH_FEATURIZER_H_
