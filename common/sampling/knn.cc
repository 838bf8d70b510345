#include "common/sampling/knn.h"

#include <algorithm>
#include <utility>

namespace fedlog::sampling {

float SquaredDistance(absl::Span<const float> a, absl::Span<const float> b) {
  float sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

std::vector<std::vector<size_t>> NearestNeighbours(const FeatureMatrix& points,
                                                   absl::Span<const size_t> queries,
                                                   absl::Span<const size_t> candidates, size_t k) {
  std::vector<std::vector<size_t>> result;
  result.reserve(queries.size());
  std::vector<std::pair<float, size_t>> scored;
  for (size_t q : queries) {
    scored.clear();
    for (size_t c : candidates) {
      if (c != q) scored.emplace_back(SquaredDistance(points.Row(q), points.Row(c)), c);
    }
    const size_t take = std::min(k, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + take, scored.end());
    std::vector<size_t> nearest(take);
    for (size_t i = 0; i < take; ++i) nearest[i] = scored[i].second;
    result.push_back(std::move(nearest));
  }
  return result;
}

}  // namespace fedlog::sampling
