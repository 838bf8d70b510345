// What a site's labels say about its message kinds, for the federation (docs/DETECTION.md "The federation's
// kind verdicts", docs/PRIVACY.md "Message-kind counts"): per source, each labelled line (or, for a source
// keyed into sessions, each labelled session: SessionKindCounts) is one unit of kinds::KindSketch (its kind
// from the content the source's LineParser gives, kinds::KindSignature), capped at kinds::kSiteBucketCap per
// bucket (kinds::KindTally; the aggregator refuses more), sent as the sketch's non-zero buckets in
// UpdateHeader.kind_counts in plain rounds, or masked in the round's kind sections under secure aggregation
// (common/secagg/kind_sections.h); never in DP rounds, and only when the site's policy uploads label-derived
// statistics (upload_prototypes). Torch-free, gRPC-free; thread-safe (stateless).
#ifndef FEDLOG_CLIENT_SITE_KINDS_H_
#define FEDLOG_CLIENT_SITE_KINDS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/kinds/kind_sketch.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::client {

// The counts of one source: `raw` its lines, `labels` per line (-1 unlabelled, 0 normal, >= 1 anomalous; empty:
// none), each bucket capped at kinds::kSiteBucketCap keeping its class proportion. nullopt when no labelled
// line has a kind. InvalidArgument for an unknown format or mismatched sizes.
absl::StatusOr<std::optional<v1::KindCounts>> SourceKindCounts(const std::string& source, const std::string& format,
                                                               const std::vector<std::string>& raw,
                                                               const std::vector<int>& labels);
// The wire form of `sketch` for `source`: its non-zero buckets in ascending order with their counts.
v1::KindCounts SparseKindCounts(const std::string& source, const kinds::KindSketch& sketch);
// The counts of a session-keyed source (detect.session_pattern set; docs/DETECTION.md "The federation's kind
// verdicts"): a line whose content has a session key (`session_pattern`'s first match or capture group, as the
// live detector keys sessions: novelty::EventBuilder::SessionOf) belongs to that key's unit, every line of the
// key over `raw`; a key with at least one labelled line is ONE unit, labelled with the highest label of its
// labelled lines (the live detector's session-label rule), holding the distinct kinds of all its lines. A line
// without a key is a line unit, as in SourceKindCounts. nullopt when no unit has a kind. InvalidArgument as
// SourceKindCounts, and for a pattern RE2 rejects (or with more than one capture group).
absl::StatusOr<std::optional<v1::KindCounts>> SessionKindCounts(const std::string& source, const std::string& format,
                                                                const std::vector<std::string>& raw,
                                                                const std::vector<int>& labels,
                                                                const std::string& session_pattern);
// Whether this round's update may carry kind counts: not under secure aggregation (they would travel in the
// clear), not under any DP mode (the accountant does not cover them), not when `policy` withholds
// label-derived statistics (upload_prototypes: false).
bool UploadsKindCounts(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_KINDS_H_
