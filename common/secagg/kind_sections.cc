#include "common/secagg/kind_sections.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/kinds/kind_sketch.h"

namespace fedlog::secagg {
namespace {

using kinds::KindSketch;
using kinds::kSiteBucketCap;

// A bucket's two lanes: class 0 (anomalous) at i, class 1 (normal) at i + kHalf.
constexpr size_t kHalf = KindSketch::kSize / 2;

}  // namespace

absl::StatusOr<std::vector<double>> CapKindBuckets(const v1::KindCounts& counts) {
  absl::StatusOr<KindSketch> sketch =
      KindSketch::FromSparse(std::vector<uint32_t>(counts.bucket().begin(), counts.bucket().end()),
                             std::vector<double>(counts.count().begin(), counts.count().end()));
  if (!sketch.ok()) return absl::InvalidArgumentError(absl::StrCat("kind counts: ", sketch.status().message()));
  sketch->CapBuckets(kSiteBucketCap);
  return sketch->counts();
}

absl::Status AppendKindSections(const UpdateVectorLayout& layout, const std::vector<v1::KindCounts>& counts,
                                double clip_range, FlatUpdate* out) {
  if (!(clip_range >= 1) || !std::isfinite(clip_range)) {
    return absl::InvalidArgumentError("kind sections need a finite clip range >= 1 (the presence lane holds 1)");
  }
  const double scale = clip_range / kSiteBucketCap;
  for (const std::string& source : layout.kind_sources) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const v1::KindCounts& k) { return k.source() == source; });
    if (it == counts.end()) {
      out->values.resize(out->values.size() + static_cast<size_t>(kKindSectionLength), 0.0f);
      continue;
    }
    absl::StatusOr<std::vector<double>> dense = CapKindBuckets(*it);
    if (!dense.ok()) return dense.status();
    for (double c : *dense) {
      // c <= kSiteBucketCap, so the lane stays within [0, R]; min() only guards float rounding.
      out->values.push_back(static_cast<float>(std::min(c * scale, clip_range)));
    }
    out->values.push_back(1.0f);
  }
  return absl::OkStatus();
}

std::vector<KindSectionSum> KindSumsFromSum(const UpdateVectorLayout& layout, const DecodedSum& sum, int survivors,
                                            double clip_range, int fractional_bits) {
  std::vector<KindSectionSum> out;
  const bool length_ok = sum.weighted_sum.size() == layout.length();
  size_t at = static_cast<size_t>(layout.length() - layout.KindLanes());
  const double n = static_cast<double>(std::max(survivors, 0));
  const double lane_tol = n * std::ldexp(1.0, -(fractional_bits + 1)) + 1e-9;
  const double to_counts = kSiteBucketCap / clip_range;
  const double tol = lane_tol * to_counts;
  for (const std::string& source : layout.kind_sources) {
    KindSectionSum s;
    s.source = source;
    if (!length_ok || !(clip_range >= 1) || survivors < 1) {
      s.status = absl::DataLossError("the kind sections do not match the sum's layout");
      out.push_back(std::move(s));
      continue;
    }
    const double* lanes = sum.weighted_sum.data() + at;
    at += static_cast<size_t>(kKindSectionLength);
    const double presence = lanes[KindSketch::kSize];
    if (!std::isfinite(presence) || presence < -lane_tol || presence > n + lane_tol) {
      s.status = absl::DataLossError(absl::StrCat("kind section '", source, "': its presence sum is out of range"));
      out.push_back(std::move(s));
      continue;
    }
    s.sites = std::max(presence, 0.0);
    s.counts.resize(KindSketch::kSize);
    const double most = kSiteBucketCap * s.sites + 2 * tol;
    for (size_t i = 0; i < kHalf && s.status.ok(); ++i) {
      const double a = lanes[i] * to_counts, b = lanes[i + kHalf] * to_counts;
      if (!std::isfinite(a) || !std::isfinite(b) || a < -tol || b < -tol || a + b > most) {
        s.status = absl::DataLossError(absl::StrCat(
            "kind section '", source, "': a bucket outside [0, ", kSiteBucketCap, " x the sites that filled it]"));
        break;
      }
      s.counts[i] = std::max(a, 0.0);
      s.counts[i + kHalf] = std::max(b, 0.0);
    }
    if (!s.status.ok()) s.counts.clear();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace fedlog::secagg
