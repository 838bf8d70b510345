// What a site's labels say about its message kinds, for the federation (docs/DETECTION.md "The federation's
// kind verdicts", docs/PRIVACY.md "Message-kind counts"): per source, each labelled line (or, for a source
// keyed into sessions, each labelled session: SessionKindCounts) is one unit of kinds::KindSketch (its kind
// from the content the source's LineParser gives, kinds::KindSignature), capped at kinds::kSiteBucketCap per
// bucket (kinds::KindTally; the aggregator refuses more), sent as the sketch's non-zero buckets in
// UpdateHeader.kind_counts in plain rounds, or masked in the round's kind sections under secure aggregation
// (common/secagg/kind_sections.h); never in DP rounds, and only when the site's policy uploads label-derived
// statistics (upload_prototypes). The labelled lines are the configured labels file's and the operator's
// verdicts (`fedlog feedback`, `fedlog label`: MergeOperatorVerdicts; the daemon reads them from detect.db,
// client/site_verdicts.h). Torch-free, gRPC-free; thread-safe (stateless).
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

// The lines a source's kind counts are taken from: `raw` the configured file's lines (not owned; must outlive
// this), `more` further lines labelled at the site (operator verdicts on lines not in the file), and `labels`
// per line of raw, then of more (-1 unlabelled, 0 normal, >= 1 anomalous; empty: none labelled).
struct KindLines {
  const std::vector<std::string>* raw = nullptr;
  std::vector<std::string> more;
  std::vector<int> labels;
  size_t size() const { return (raw != nullptr ? raw->size() : 0) + more.size(); }
  const std::string& line(size_t i) const {
    const size_t n = raw != nullptr ? raw->size() : 0;
    return i < n ? (*raw)[i] : more[i - n];
  }
};

// One verdict an operator gave at the site, as detect.db keeps it (client/detect/label_verdicts.h): the line
// (its raw text), the label (0 normal, >= 1 anomalous), and whether it is a verdict on the line's session
// (`fedlog label`'s session candidates) rather than on the line. A "whole template is normal" verdict is a
// normal verdict on the example line stored with it: one unit, as any verdict (docs/LABELING.md).
struct OperatorVerdict {
  std::string line;
  int label = 0;
  bool session = false;
};

// What MergeOperatorVerdicts did with a source's verdicts.
struct VerdictMerge {
  int64_t added = 0;       // new labelled lines (one unit each, or joining their session's unit)
  int64_t replaced = 0;    // verdicts on a line the labels file labels too: their label replaced the file's
  int64_t duplicates = 0;  // older verdicts on the same line text as a newer one (the newer counts)
  int64_t skipped = 0;     // session verdicts of a source not keyed into sessions; labels below 0
};

// A source's lines for its kind counts: the file's `raw` and `labels` (as SourceKindCounts takes them) and
// `verdicts` (this source's, oldest first). Lines are compared by their text without a trailing '\r'. A
// line labelled twice is one unit: among verdicts on one text the newest counts; a verdict on a text the
// labels file labels gives its label to those file lines (the operator's later word) and adds no line; any
// other verdict is one more labelled line. Session verdicts count only when `session_keyed` (then the line
// joins its session's unit, SessionKindCounts); for a line-keyed source they are not verdicts on the line
// (as live detection treats them) and are skipped. `stats` (may be null) says what happened.
KindLines MergeOperatorVerdicts(const std::vector<std::string>& raw, const std::vector<int>& labels,
                                const std::vector<OperatorVerdict>& verdicts, bool session_keyed,
                                VerdictMerge* stats);

// The counts of one source: `raw` its lines, `labels` per line (-1 unlabelled, 0 normal, >= 1 anomalous; empty:
// none), each bucket capped at kinds::kSiteBucketCap keeping its class proportion. nullopt when no labelled
// line has a kind. InvalidArgument for an unknown format or mismatched sizes.
absl::StatusOr<std::optional<v1::KindCounts>> SourceKindCounts(const std::string& source, const std::string& format,
                                                               const std::vector<std::string>& raw,
                                                               const std::vector<int>& labels);
// The same over `lines` (the file's lines and the operator's verdicts, MergeOperatorVerdicts); each bucket is
// also capped at the number of the file's lines (what the site declares in Hello, and the aggregator's bound on
// a bucket), which only verdicts beyond a file of fewer than kinds::kSiteBucketCap lines can reach.
absl::StatusOr<std::optional<v1::KindCounts>> SourceKindCounts(const std::string& source, const std::string& format,
                                                               const KindLines& lines);
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
// The same over `lines` (the file's lines and the operator's verdicts, MergeOperatorVerdicts), capped as the
// KindLines overload of SourceKindCounts.
absl::StatusOr<std::optional<v1::KindCounts>> SessionKindCounts(const std::string& source, const std::string& format,
                                                                const KindLines& lines,
                                                                const std::string& session_pattern);
// How many of a site's own message kinds the federation's counts decide: over the distinct kinds of `raw`
// (format `format`'s content, as SourceKindCounts takes them), those whose verdict in `counts` (a manifest's
// KindCounts) at `options` is anomalous or normal. For the operator's log when a model arrives (which of its
// kinds the federation's verdicts will alert on or silence). InvalidArgument for an unknown format or counts
// KindSketch::FromSparse rejects.
struct KindCoverage {
  int64_t kinds = 0;      // distinct kinds among the lines
  int64_t anomalous = 0;  // of them, with the anomalous verdict
  int64_t normal = 0;     // with the normal verdict
};
absl::StatusOr<KindCoverage> SourceKindCoverage(const std::string& format, const std::vector<std::string>& raw,
                                                const v1::KindCounts& counts,
                                                const kinds::KindVerdictOptions& options);
// Whether this round's update may carry kind counts: not under secure aggregation (they would travel in the
// clear), not under any DP mode (the accountant does not cover them), not when `policy` withholds
// label-derived statistics (upload_prototypes: false).
bool UploadsKindCounts(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_KINDS_H_
