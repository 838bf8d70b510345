// Brute-force k-nearest-neighbour search in squared Euclidean distance, enough for the
// oversamplers: one query costs O(|candidates| * d) distance work plus O(|candidates| log k)
// selection, so a full pass over n minority rows against N candidates is O(n * N * d). Fine up to a
// few 10^4 rows; beyond that, subsample first. Thread-safety: pure functions, safe to call
// concurrently.
#ifndef FEDLOG_COMMON_SAMPLING_KNN_H_
#define FEDLOG_COMMON_SAMPLING_KNN_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"
#include "common/sampling/feature_matrix.h"

namespace fedlog::sampling {

float SquaredDistance(absl::Span<const float> a, absl::Span<const float> b);

// For each row index in `queries`, the (at most) k nearest rows among `candidates`, nearest first,
// never the query row itself. Equal distances are ordered by row index, so results are
// deterministic.
std::vector<std::vector<size_t>> NearestNeighbours(const FeatureMatrix& points,
                                                   absl::Span<const size_t> queries,
                                                   absl::Span<const size_t> candidates, size_t k);

}  // namespace fedlog::sampling

#endif  // FEDLOG_COMMON_SAMPLING_KNN_H_
