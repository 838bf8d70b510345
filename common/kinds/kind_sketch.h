// fedlog::kinds::KindSketch: what a site's labels say about each message kind (kind_signature.h),
// as a fixed-size count-min sketch that sites SUM: per class (anomalous, normal) kRows x kColumns
// counts, a kind's bucket in each row a mix of its signature with the row. Being a plain sum of
// vectors, the federation's sketch is the element-wise sum of the sites' sketches, and secure
// aggregation can mask it exactly as it masks weight sums (it reveals the federation's per-bucket
// counts, not which site holds a kind, nor any line). A kind's count estimate is the minimum over
// the rows (never below the truth; it exceeds it only when the kind collides in every row).
//
// A labelled unit (a line, or a session's lines together) counts once per DISTINCT kind it holds.
// The federation's verdict on a kind (VerdictOf): anomalous when its anomalous estimate a is at
// least min_support, above what fewer than `anomalous_sites` sites can give (each site's bucket is
// capped at kSiteBucketCap, kind_tally.h) and at least `purity` of a + b; normal the same way round
// with `normal_sites`; otherwise none. Thread-compatible (const methods are safe to share).
#ifndef FEDLOG_COMMON_KINDS_KIND_SKETCH_H_
#define FEDLOG_COMMON_KINDS_KIND_SKETCH_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::kinds {

enum class KindVerdict : int8_t { kNone = 0, kAnomalous = 1, kNormal = -1 };

struct KindVerdictOptions {
  // Least estimated count of the verdict's class. >= 1. 3: one or two labelled lines of a kind
  // (a slip of a labeller, a collision) decide nothing. Fixed by argument, not tuned.
  double min_support = 3;
  // Least share of the verdict's class among the kind's labelled units, in (0.5, 1]. 0.9.
  double purity = 0.9;
  // Least number of sites a verdict of each class needs, in [1, kMaxVerdictSites]: the class's estimate must
  // exceed (sites - 1) x kSiteBucketCap, more than that many capped sites can hold. A normal verdict silences
  // alerts at every site without labels of its own, unseen, so it needs 2 by default: one lying site cannot
  // silence a kind (detect.kind_verdict_silence_sites). An anomalous verdict raises alerts the operators see
  // and their own labels overrule; one site is enough (docs/EVALUATION.md "Session 18: ..."), and the receiving
  // site bounds how many alerts such verdicts alone raise (alarm_budget.h).
  int normal_sites = 2;
  int anomalous_sites = 1;
  absl::Status Validate() const;
};

// The largest `normal_sites` / `anomalous_sites`.
inline constexpr int kMaxVerdictSites = 8;

// The most units one site's sketch may hold in one bucket (its two classes together), the per-site cap that
// keeps one site from deciding a kind other sites labelled: with 4, a site alone can still reach a verdict
// (min_support 3 at purity 0.9 needs 3.33), but it cannot outvote another site's labels. The site scales a
// bucket down to the cap before it uploads; the aggregator refuses a bucket above it.
inline constexpr double kSiteBucketCap = 4;

class KindSketch {
 public:
  static constexpr int kRows = 2;
  static constexpr int kColumns = 8192;
  // The length of counts(): [class][row][column], class 0 anomalous, 1 normal.
  static constexpr int kSize = 2 * kRows * kColumns;

  KindSketch();
  // A sketch from summed counts (e.g. the aggregator's manifest). InvalidArgument unless it holds
  // kSize finite, non-negative values.
  static absl::StatusOr<KindSketch> FromCounts(const std::vector<double>& counts);
  // A sketch from its non-zero buckets (the wire form, KindCounts in model.proto): bucket[i] holds
  // count[i]. InvalidArgument unless the sizes match, every bucket is < kSize and listed once, and
  // every count is finite and non-negative.
  static absl::StatusOr<KindSketch> FromSparse(const std::vector<uint32_t>& buckets,
                                               const std::vector<double>& counts);

  // The wire form's inverse of FromSparse: the non-zero buckets in ascending order and their counts.
  void NonZero(std::vector<uint32_t>* buckets, std::vector<double>* counts) const;
  // Counts one labelled unit: `kinds` its lines' signatures (duplicates count once), `anomalous` its
  // label.
  void AddUnit(const std::vector<uint64_t>& kinds, bool anomalous);
  // Adds `anomalous` and `normal` units (finite, >= 0; fractions allowed) of one kind to each of its buckets;
  // KindTally's capped sketch is built this way.
  void AddKind(uint64_t kind, double anomalous, double normal);
  // Scales every bucket whose two classes together hold more than `cap` (> 0) down to `cap`, keeping its
  // class proportion: a site's sketch before it leaves the site (kSiteBucketCap).
  void CapBuckets(double cap);
  // Adds another site's sketch (the federation's sum).
  void Merge(const KindSketch& other);
  // Zeroes every bucket whose two classes together hold less than `min_total`: what a small count
  // could tell about one site's rare message is not shipped; a verdict needs min_support anyway.
  void Suppress(double min_total);

  // The estimates for one kind (minimum over rows), per class.
  double Anomalous(uint64_t kind) const;
  double Normal(uint64_t kind) const;
  KindVerdict VerdictOf(uint64_t kind, const KindVerdictOptions& options) const;
  // Labelled units counted (the sum of anomalous units' and normal units' distinct kinds is not
  // kept; these are units).
  double units() const { return units_; }
  const std::vector<double>& counts() const { return counts_; }

 private:
  size_t Index(int cls, int row, uint64_t kind) const;
  double Estimate(int cls, uint64_t kind) const;
  std::vector<double> counts_;
  double units_ = 0;
};

// The verdict on a unit holding `kinds`: anomalous when any kind is; for a line unit (`silence`
// true) normal when its kinds are all normal; otherwise none. Session units pass `silence` false: a
// session's anomaly can be a missing or extra event of routine kinds, which per-kind counts cannot
// show, so routine kinds never silence one.
KindVerdict UnitVerdict(const KindSketch& sketch, const std::vector<uint64_t>& kinds, bool silence,
                        const KindVerdictOptions& options);

}  // namespace fedlog::kinds

#endif  // FEDLOG_COMMON_KINDS_KIND_SKETCH_H_
