#include "common/sampling/oversample.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/sampling/knn.h"

namespace fedlog::sampling {
namespace {

struct Classes {
  int minority_label = 0;
  std::vector<size_t> minority;
  std::vector<size_t> all;
};

absl::StatusOr<Classes> SplitClasses(const FeatureMatrix& x, absl::Span<const int> y,
                                     const OversampleOptions& options) {
  if (x.rows() != y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("features have ", x.rows(), " rows, labels ", y.size()));
  }
  if (options.k_neighbors < 1 || options.m_neighbors < 1 || !(options.target_ratio > 0)) {
    return absl::InvalidArgumentError("k_neighbors, m_neighbors and target_ratio must be positive");
  }
  for (size_t i = 0; i < x.rows(); ++i) {
    absl::Span<const float> row = x.Row(i);
    if (!std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, " holds a NaN or infinite feature"));
    }
  }
  std::map<int, size_t> counts;
  for (int label : y) ++counts[label];
  if (counts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("oversampling needs exactly two classes, got ", counts.size()));
  }
  Classes c;
  const auto& [low, n_low] = *counts.begin();
  const auto& [high, n_high] = *counts.rbegin();
  c.minority_label = n_low < n_high ? low : high;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == c.minority_label) c.minority.push_back(i);
  }
  if (c.minority.size() < 2) {
    return absl::FailedPreconditionError("the minority class needs at least two rows");
  }
  c.all.resize(y.size());
  std::iota(c.all.begin(), c.all.end(), 0);
  return c;
}

int64_t SyntheticCount(const Classes& c, const OversampleOptions& options) {
  if (options.num_synthetic >= 0) return options.num_synthetic;
  const double majority = static_cast<double>(c.all.size() - c.minority.size());
  const int64_t target = std::llround(options.target_ratio * majority);
  return std::max<int64_t>(0, target - static_cast<int64_t>(c.minority.size()));
}

OversampleResult StartResult(const FeatureMatrix& x, absl::Span<const int> y, int minority_label) {
  OversampleResult r;
  r.features = x;
  r.labels.assign(y.begin(), y.end());
  r.num_original = x.rows();
  r.minority_label = minority_label;
  return r;
}

float DrawGap(std::mt19937_64& rng) {
  return static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f);  // 24 random bits -> [0, 1)
}

// Appends one row between x[base] and a random member of `neighbours` (indices into x).
void AddSynthetic(const FeatureMatrix& x, size_t base, const std::vector<size_t>& neighbours,
                  std::mt19937_64& rng, OversampleResult& out) {
  const size_t nb = neighbours[rng() % neighbours.size()];
  const float gap = DrawGap(rng);
  absl::Span<const float> a = x.Row(base), b = x.Row(nb);
  std::vector<float> row(a.size());
  for (size_t f = 0; f < a.size(); ++f) row[f] = a[f] + gap * (b[f] - a[f]);
  out.features.AppendRow(row).IgnoreError();  // width matches x by construction
  out.labels.push_back(out.minority_label);
  out.origins.push_back(SyntheticOrigin{base, nb, gap});
}

// For each minority row, the number of majority rows among its m nearest neighbours in the whole
// set.
std::vector<int> MajorityNeighbourCounts(const FeatureMatrix& x, absl::Span<const int> y,
                                         const Classes& c, size_t m) {
  const auto nn = NearestNeighbours(x, c.minority, c.all, m);
  std::vector<int> counts(c.minority.size(), 0);
  for (size_t i = 0; i < nn.size(); ++i) {
    for (size_t j : nn[i]) counts[i] += y[j] != c.minority_label ? 1 : 0;
  }
  return counts;
}

// Draws `count` rows from bases picked uniformly among `base_positions` (positions in c.minority).
absl::StatusOr<OversampleResult> DrawUniform(const FeatureMatrix& x, absl::Span<const int> y,
                                             const Classes& c, const OversampleOptions& options,
                                             const std::vector<size_t>& base_positions) {
  OversampleResult out = StartResult(x, y, c.minority_label);
  const int64_t count = SyntheticCount(c, options);
  if (base_positions.empty() || count == 0) return out;
  const auto nn = NearestNeighbours(x, c.minority, c.minority, options.k_neighbors);
  std::mt19937_64 rng(options.seed);
  for (int64_t s = 0; s < count; ++s) {
    const size_t p = base_positions[rng() % base_positions.size()];
    AddSynthetic(x, c.minority[p], nn[p], rng, out);
  }
  return out;
}

// Splits `total` proportionally to `weights` with largest-remainder rounding (ties to the lower
// index).
std::vector<int64_t> Apportion(const std::vector<double>& weights, int64_t total) {
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<int64_t> share(weights.size());
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double exact = static_cast<double>(total) * weights[i] / sum;
    share[i] = static_cast<int64_t>(std::floor(exact));
    given += share[i];
    remainders.emplace_back(-(exact - static_cast<double>(share[i])), i);
  }
  std::sort(remainders.begin(), remainders.end());
  for (size_t r = 0; given < total; ++r, ++given) ++share[remainders[r % remainders.size()].second];
  return share;
}

}  // namespace

absl::StatusOr<OversampleResult> Smote(const FeatureMatrix& x, absl::Span<const int> y,
                                       const OversampleOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(Classes c, SplitClasses(x, y, options));
  std::vector<size_t> bases(c.minority.size());
  std::iota(bases.begin(), bases.end(), 0);
  return DrawUniform(x, y, c, options, bases);
}

absl::StatusOr<OversampleResult> BorderlineSmote(const FeatureMatrix& x, absl::Span<const int> y,
                                                 const OversampleOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(Classes c, SplitClasses(x, y, options));
  const size_t m = std::min<size_t>(options.m_neighbors, x.rows() - 1);
  const std::vector<int> majority = MajorityNeighbourCounts(x, y, c, m);
  std::vector<size_t> danger;
  for (size_t p = 0; p < majority.size(); ++p) {
    const size_t maj = static_cast<size_t>(majority[p]);
    if (2 * maj >= m && maj < m) danger.push_back(p);
  }
  return DrawUniform(x, y, c, options, danger);
}

absl::StatusOr<OversampleResult> Adasyn(const FeatureMatrix& x, absl::Span<const int> y,
                                        const OversampleOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(Classes c, SplitClasses(x, y, options));
  OversampleResult out = StartResult(x, y, c.minority_label);
  const int64_t count = SyntheticCount(c, options);
  if (count == 0) return out;
  const size_t m = std::min<size_t>(options.m_neighbors, x.rows() - 1);
  const std::vector<int> majority = MajorityNeighbourCounts(x, y, c, m);
  std::vector<double> hardness(majority.begin(), majority.end());
  if (std::all_of(hardness.begin(), hardness.end(), [](double h) { return h == 0; })) {
    std::fill(hardness.begin(), hardness.end(), 1.0);
  }
  const std::vector<int64_t> per_row = Apportion(hardness, count);
  const auto nn = NearestNeighbours(x, c.minority, c.minority, options.k_neighbors);
  std::mt19937_64 rng(options.seed);
  for (size_t p = 0; p < per_row.size(); ++p) {
    for (int64_t s = 0; s < per_row[p]; ++s) AddSynthetic(x, c.minority[p], nn[p], rng, out);
  }
  return out;
}

}  // namespace fedlog::sampling
