// The federation's message-kind counts at the aggregator (docs/DETECTION.md "The federation's kind verdicts",
// docs/PRIVACY.md "Message-kind counts"): the checks on a site's UpdateHeader.kind_counts, the per-update
// sidecar file that holds them until the round is aggregated (deleted with the update, DiscardUpdates), and
// the per-source sum, suppressed below kKindSuppressBelow, that enters the next model's manifest
// (ModelManifest.kind_counts). Counts are sparse KindSketch vectors (common/kinds/kind_sketch.h).
// Thread-safe: stateless functions.
#ifndef FEDLOG_SERVER_COORDINATOR_KINDS_H_
#define FEDLOG_SERVER_COORDINATOR_KINDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/kinds/kind_sketch.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::server {

// A bucket of the summed sketch whose two classes together hold fewer units is zeroed before it is shipped: one
// or two sites' rare messages are not shown, and a verdict needs 3 units anyway (KindVerdictOptions).
inline constexpr double kKindSuppressBelow = 3;

// Rounding slack on the per-site cap (a capped pair is computed in floating point).
inline constexpr double kKindCapSlack = 1e-9;

// The numbers of header.kind_counts: at most kMaxHelloSources entries with valid, distinct source names; per
// entry as many counts as buckets, at most KindSketch::kSize, buckets strictly ascending and < kSize, counts
// finite and > 0 (fractions: a site scales a bucket down to the cap keeping its class proportion), and each
// bucket's two classes together at most kinds::kSiteBucketCap (the per-site cap: one site cannot outvote
// another's labels, nor alone give a verdict that needs two sites). InvalidArgument otherwise, naming the field
// but quoting no site text.
absl::Status ValidateKindCounts(const v1::UpdateHeader& header);
// Whether an update may carry kind counts at all: FailedPrecondition under secure aggregation (the counts would
// travel in the clear beside the masked input), under any DP mode (the accountant does not cover them), or for
// a source the site did not declare in its Hello (`declared`); InvalidArgument for a count above the lines the
// site declared of that source (a labelled line counts at most once per bucket; withheld counts bound nothing).
// OK for an update without counts.
absl::Status CheckKindCountsAllowed(const v1::RunPlan& plan, const v1::UpdateHeader& header, bool secagg_round,
                                    const std::vector<v1::SourceInfo>& declared);

// Where the counts of the update stored at `update_path` wait for aggregation.
std::string KindCountsPath(const std::string& update_path);
// Writes header.kind_counts next to the update (nothing when it has none).
absl::Status WriteKindCounts(const std::string& update_path, const v1::UpdateHeader& header);
// Reads them back; empty when the update had none. DataLoss when the file is unreadable or fails the checks.
absl::StatusOr<std::vector<v1::KindCounts>> ReadKindCounts(const std::string& update_path);

// The wire form of `sketch` for `source` (KindSketch::NonZero).
v1::KindCounts SparseKindCounts(const std::string& source, const kinds::KindSketch& sketch);

// The per-source sum of `updates`' counts, each bucket whose classes together hold fewer than `suppress_below`
// zeroed and left out; sources sorted by name, sources left empty dropped.
std::vector<v1::KindCounts> SumKindCounts(const std::vector<std::vector<v1::KindCounts>>& updates,
                                          double suppress_below);

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_COORDINATOR_KINDS_H_
