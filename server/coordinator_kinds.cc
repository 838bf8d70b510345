#include "server/coordinator_kinds.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/fl/fedavg.h"
#include "common/kinds/kind_sketch.h"
#include "server/coordinator_checks.h"

namespace fedlog::server {

using kinds::KindSketch;

namespace {

// The per-site cap on each bucket (both classes of one row and column together): an update above it is refused
// whole, since a site that runs fedlog caps its sketch before it sends it (kinds::KindTally).
absl::Status CheckKindBucketCap(const v1::KindCounts& k) {
  constexpr uint32_t kPerClass = static_cast<uint32_t>(KindSketch::kRows) * KindSketch::kColumns;
  std::map<uint32_t, double> pairs;  // the bucket's index within its class -> both classes' sum
  for (int i = 0; i < k.bucket_size(); ++i) pairs[k.bucket(i) % kPerClass] += k.count(i);
  for (const auto& [bucket, total] : pairs) {
    if (total > kinds::kSiteBucketCap + kKindCapSlack) {
      return absl::InvalidArgumentError(absl::StrCat("kind_counts: a bucket holds ", total,
                                                     " units, above the per-site cap of ", kinds::kSiteBucketCap));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateKindCounts(const v1::UpdateHeader& h) {
  if (h.kind_counts_size() > kMaxHelloSources) {
    return absl::InvalidArgumentError(absl::StrCat("kind_counts: more than ", kMaxHelloSources, " sources"));
  }
  std::set<std::string> seen;
  for (const v1::KindCounts& k : h.kind_counts()) {
    if (!fl::IsValidSourceName(k.source()) || !seen.insert(k.source()).second) {
      return absl::InvalidArgumentError("kind_counts: a source name is invalid or repeated");
    }
    if (k.bucket_size() != k.count_size() || k.bucket_size() > KindSketch::kSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("kind_counts: as many counts as buckets needed, at most ", KindSketch::kSize));
    }
    for (int i = 0; i < k.bucket_size(); ++i) {
      if (k.bucket(i) >= static_cast<uint32_t>(KindSketch::kSize) || (i > 0 && k.bucket(i) <= k.bucket(i - 1))) {
        return absl::InvalidArgumentError(
            absl::StrCat("kind_counts: buckets must be strictly ascending and below ", KindSketch::kSize));
      }
      const double c = k.count(i);
      if (!std::isfinite(c) || c <= 0 || c > kinds::kSiteBucketCap + kKindCapSlack) {
        return absl::InvalidArgumentError(
            absl::StrCat("kind_counts: counts must be in (0, ", kinds::kSiteBucketCap, "], the per-site cap"));
      }
    }
    FEDLOG_RETURN_IF_ERROR(CheckKindBucketCap(k));
  }
  return absl::OkStatus();
}

absl::Status CheckKindCountsAllowed(const v1::RunPlan& plan, const v1::UpdateHeader& header, bool secagg_round,
                                    const std::vector<v1::SourceInfo>& declared) {
  if (header.kind_counts_size() == 0) return absl::OkStatus();
  if (secagg_round || header.secagg_masked()) {
    return absl::FailedPreconditionError(
        "kind_counts are not taken in the clear under secure aggregation (they travel in the masked kind sections)");
  }
  if (!plan.dp_mode().empty() && plan.dp_mode() != "none") {
    return absl::FailedPreconditionError("kind_counts are not taken under differential privacy");
  }
  for (const v1::KindCounts& k : header.kind_counts()) {
    auto it = std::find_if(declared.begin(), declared.end(),
                           [&](const v1::SourceInfo& s) { return s.name() == k.source(); });
    if (it == declared.end()) return absl::FailedPreconditionError("kind_counts: a source the site did not declare");
    if (it->lines() <= 0) continue;  // withheld: nothing to bound by
    for (double c : k.count()) {
      if (c > static_cast<double>(it->lines())) {
        return absl::InvalidArgumentError("kind_counts: a count above the lines the site declared of its source");
      }
    }
  }
  return absl::OkStatus();
}

std::string KindCountsPath(const std::string& update_path) { return update_path + ".kinds"; }

absl::Status WriteKindCounts(const std::string& update_path, const v1::UpdateHeader& header) {
  if (header.kind_counts_size() == 0) return absl::OkStatus();
  v1::UpdateHeader only;
  *only.mutable_kind_counts() = header.kind_counts();
  return WriteFileAtomic(KindCountsPath(update_path), only.SerializeAsString());
}

absl::StatusOr<std::vector<v1::KindCounts>> ReadKindCounts(const std::string& update_path) {
  const std::string path = KindCountsPath(update_path);
  if (!FileExists(path)) return std::vector<v1::KindCounts>();
  absl::StatusOr<std::string> bytes = ReadFile(path);
  v1::UpdateHeader h;
  if (!bytes.ok() || !h.ParseFromString(*bytes) || !ValidateKindCounts(h).ok()) {
    return absl::DataLossError("an update's kind counts are unreadable");
  }
  return std::vector<v1::KindCounts>(h.kind_counts().begin(), h.kind_counts().end());
}

v1::KindCounts SparseKindCounts(const std::string& source, const KindSketch& sketch) {
  v1::KindCounts k;
  k.set_source(source);
  std::vector<uint32_t> buckets;
  std::vector<double> counts;
  sketch.NonZero(&buckets, &counts);
  k.mutable_bucket()->Add(buckets.begin(), buckets.end());
  k.mutable_count()->Add(counts.begin(), counts.end());
  return k;
}

std::vector<v1::KindCounts> SumKindCounts(const std::vector<std::vector<v1::KindCounts>>& updates,
                                          double suppress_below) {
  std::map<std::string, std::vector<double>> sums;
  for (const auto& update : updates) {
    for (const v1::KindCounts& k : update) {
      std::vector<double>& dense = sums[k.source()];
      dense.resize(KindSketch::kSize, 0.0);
      for (int i = 0; i < k.bucket_size() && i < k.count_size(); ++i) {
        if (k.bucket(i) < static_cast<uint32_t>(KindSketch::kSize)) dense[k.bucket(i)] += k.count(i);
      }
    }
  }
  std::vector<v1::KindCounts> out;
  for (auto& [source, dense] : sums) {
    absl::StatusOr<KindSketch> sketch = KindSketch::FromCounts(dense);
    if (!sketch.ok()) continue;  // unreachable: the inputs were validated
    sketch->Suppress(suppress_below);
    v1::KindCounts k = SparseKindCounts(source, *sketch);
    if (k.bucket_size() > 0) out.push_back(std::move(k));
  }
  return out;
}

}  // namespace fedlog::server
