// Aggregation of updates stored as bundle files, with memory bounded by the model's size rather
// than by the number of updates (issue 6: aggregator RSS <= 3 x model + small per-site state).
//   fedavg / weighted_fedavg: each update is decoded in chunks straight into the float32
//     accumulator (ReadBundleFileChunks into WeightedAverager); memory = the accumulator + one
//     chunk. Clipping (a fixed or an adaptive bound, adaptive_clip.h) needs each update's norm before
//     the pass: it is composed from the part norms stored at upload (UpdateFile::part_norms,
//     part_norms.h), so each file is read once; a file without them is read once more for them.
//   median / trimmed_mean: every coordinate needs every update's value, so each update is first
//     unpacked to a raw float32 scratch file, then every tensor is combined in column blocks read
//     back with pread; memory = the result + `block_bytes` of columns. These strategies also need
//     disk for one raw copy per update and are several times slower (docs/BENCHMARKS.md).
// The result is what AggregateDeltas (strategy.h) returns for the same updates in memory.
// Thread-compatible: stateless functions; scratch files get unique names and are removed.
#ifndef FEDLOG_COMMON_FL_STREAM_AGGREGATE_H_
#define FEDLOG_COMMON_FL_STREAM_AGGREGATE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/part_norms.h"
#include "common/fl/strategy.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

struct UpdateFile {
  std::string site;
  std::string
      path;  // a bundle file in any EncodeBundle encoding, already validated (UpdateChecker)
  // Checked while reading (DataLoss on mismatch); empty = not checked (the aggregator passes "" for updates
  // whose digest it verified itself while receiving them).
  std::string sha256;
  UpdateStats stats;
  // Squared norms of the update's parts, computed by the aggregator from this file's content (the one `sha256`
  // names) when it accepted the upload. The clipping norm is that of the parts aggregation takes: shared, and
  // the adapters of `stats.sources`. Absent (an update stored by an older binary): read from the file first.
  std::optional<PartNorms> part_norms;
};

struct StreamAggregateOptions {
  std::string scratch_dir;  // for the robust strategies' unpacked updates; must exist
  int64_t block_bytes = int64_t{32}
                        << 20;  // column block budget of the robust strategies, over all updates
};

// Aggregated delta of `updates` against a global model of layout `global` (see AggregateDeltas for
// the rules). `clip`, when given, receives the round's clipping; without a bound (clip_norm and
// adaptive_clip_multiple 0) the norms are not used and its ratios and reference are 0. Each update's norm is
// that of what it contributes (PartNorms::Included over its stats.sources), as in AggregateDeltas.
absl::StatusOr<TensorBundle> AggregateUpdateFiles(const BundleLayout& global,
                                                  const std::vector<UpdateFile>& updates,
                                                  const StrategyOptions& strategy,
                                                  const StreamAggregateOptions& options,
                                                  ClipDecision* clip = nullptr);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_STREAM_AGGREGATE_H_
