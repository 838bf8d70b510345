#include "common/kinds/kind_sketch.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/mix64.h"

namespace fedlog::kinds {
absl::Status KindVerdictOptions::Validate() const {
  if (!(min_support >= 1) || !std::isfinite(min_support)) {
    return absl::InvalidArgumentError(absl::StrCat("kind verdicts: min_support must be >= 1, got ", min_support));
  }
  if (!(purity > 0.5 && purity <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("kind verdicts: purity must be in (0.5, 1], got ", purity));
  }
  for (int sites : {normal_sites, anomalous_sites}) {
    if (sites < 1 || sites > kMaxVerdictSites) {
      return absl::InvalidArgumentError(
          absl::StrCat("kind verdicts: sites must be in [1, ", kMaxVerdictSites, "], got ", sites));
    }
  }
  return absl::OkStatus();
}

KindSketch::KindSketch() : counts_(kSize, 0.0) {}

absl::StatusOr<KindSketch> KindSketch::FromCounts(const std::vector<double>& counts) {
  if (counts.size() != static_cast<size_t>(kSize)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind sketch: ", counts.size(), " counts, expected ", kSize));
  }
  KindSketch s;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (!std::isfinite(counts[i]) || counts[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("kind sketch: count ", i, " is ", counts[i]));
    }
    s.counts_[i] = counts[i];
  }
  return s;
}

void KindSketch::NonZero(std::vector<uint32_t>* buckets, std::vector<double>* counts) const {
  buckets->clear();
  counts->clear();
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] > 0) {
      buckets->push_back(static_cast<uint32_t>(i));
      counts->push_back(counts_[i]);
    }
  }
}

absl::StatusOr<KindSketch> KindSketch::FromSparse(const std::vector<uint32_t>& buckets,
                                                  const std::vector<double>& counts) {
  if (buckets.size() != counts.size() || buckets.size() > static_cast<size_t>(kSize)) {
    return absl::InvalidArgumentError("kind sketch: as many counts as buckets needed, at most kSize");
  }
  KindSketch s;
  std::vector<bool> seen(kSize, false);
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] >= static_cast<uint32_t>(kSize) || seen[buckets[i]]) {
      return absl::InvalidArgumentError(absl::StrCat("kind sketch: bucket ", buckets[i], " out of range or repeated"));
    }
    if (!std::isfinite(counts[i]) || counts[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("kind sketch: count of bucket ", buckets[i], " is ", counts[i]));
    }
    seen[buckets[i]] = true;
    s.counts_[buckets[i]] = counts[i];
  }
  return s;
}

size_t KindSketch::Index(int cls, int row, uint64_t kind) const {
  const uint64_t column = SplitMix64(kind ^ SplitMix64(static_cast<uint64_t>(row) + 1)) % kColumns;
  return (static_cast<size_t>(cls) * kRows + static_cast<size_t>(row)) * kColumns + column;
}

void KindSketch::AddUnit(const std::vector<uint64_t>& kinds, bool anomalous) {
  std::vector<uint64_t> distinct = kinds;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const int cls = anomalous ? 0 : 1;
  for (uint64_t k : distinct) {
    for (int r = 0; r < kRows; ++r) counts_[Index(cls, r, k)] += 1;
  }
  units_ += 1;
}

void KindSketch::AddKind(uint64_t kind, double anomalous, double normal) {
  for (int r = 0; r < kRows; ++r) {
    counts_[Index(0, r, kind)] += anomalous;
    counts_[Index(1, r, kind)] += normal;
  }
}

void KindSketch::CapBuckets(double cap) {
  const size_t per_class = static_cast<size_t>(kRows) * kColumns;
  for (size_t i = 0; i < per_class; ++i) {
    const double total = counts_[i] + counts_[per_class + i];
    if (total <= cap) continue;
    const double scale = cap / total;
    counts_[i] *= scale;
    counts_[per_class + i] = cap - counts_[i];  // the pair sums to the cap exactly, never above it
  }
}

void KindSketch::Merge(const KindSketch& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  units_ += other.units_;
}

void KindSketch::Suppress(double min_total) {
  const size_t per_class = static_cast<size_t>(kRows) * kColumns;
  for (size_t i = 0; i < per_class; ++i) {
    if (counts_[i] + counts_[per_class + i] < min_total) counts_[i] = counts_[per_class + i] = 0;
  }
}

double KindSketch::Estimate(int cls, uint64_t kind) const {
  double m = counts_[Index(cls, 0, kind)];
  for (int r = 1; r < kRows; ++r) m = std::min(m, counts_[Index(cls, r, kind)]);
  return m;
}

double KindSketch::Anomalous(uint64_t kind) const { return Estimate(0, kind); }
double KindSketch::Normal(uint64_t kind) const { return Estimate(1, kind); }

namespace {
// Whether `count` of a class is support enough: min_support, and more than sites - 1 capped sites can hold.
bool Supported(double count, int sites, const KindVerdictOptions& o) {
  return count >= o.min_support && count > (sites - 1) * kSiteBucketCap;
}
}  // namespace

KindVerdict KindSketch::VerdictOf(uint64_t kind, const KindVerdictOptions& o) const {
  const double a = Anomalous(kind), b = Normal(kind);
  if (Supported(a, o.anomalous_sites, o) && a >= o.purity * (a + b)) return KindVerdict::kAnomalous;
  if (Supported(b, o.normal_sites, o) && b >= o.purity * (a + b)) return KindVerdict::kNormal;
  return KindVerdict::kNone;
}

KindVerdict UnitVerdict(const KindSketch& sketch, const std::vector<uint64_t>& kinds, bool silence,
                        const KindVerdictOptions& options) {
  if (kinds.empty()) return KindVerdict::kNone;
  bool all_normal = true;
  for (uint64_t k : kinds) {
    const KindVerdict v = sketch.VerdictOf(k, options);
    if (v == KindVerdict::kAnomalous) return KindVerdict::kAnomalous;
    all_normal = all_normal && v == KindVerdict::kNormal;
  }
  return silence && all_normal ? KindVerdict::kNormal : KindVerdict::kNone;
}

}  // namespace fedlog::kinds
