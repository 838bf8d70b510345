// Synthetic minority oversampling for binary-labelled dense features: SMOTE (Chawla et al. 2002),
// BorderlineSMOTE-1 (Han et al. 2005) and ADASYN (He et al. 2008). Each synthetic row lies on the
// segment between a minority row ("base") and one of its k nearest minority neighbours: base + gap
// * (neighbour - base), gap uniform in [0, 1). The three differ only in which bases they draw:
//   SMOTE            every minority row, uniformly at random;
//   BorderlineSMOTE  only "danger" rows: at least half, but not all, of their m nearest neighbours
//   (whole set)
//                    are majority; rows whose m neighbours are all majority are noise and never
//                    used. With no danger row nothing is generated (the result then holds only the
//                    input rows);
//   ADASYN           every minority row i gets round(G * r_i / sum r) rows (largest-remainder
//   rounding, so the
//                    total is exactly G), r_i = share of majority rows among its m nearest
//                    neighbours; if no minority row has a majority neighbour, r is uniform.
// The minority class is the less frequent of the two labels (the greater label on a tie). Neighbour
// search is brute force (see knn.h): O(n_min * n * d) for the hardness pass, O(n_min^2 * d) for
// minority neighbours. Thread-safety: pure functions, safe to call concurrently; all randomness
// comes from options.seed.
#ifndef FEDLOG_COMMON_SAMPLING_OVERSAMPLE_H_
#define FEDLOG_COMMON_SAMPLING_OVERSAMPLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/sampling/feature_matrix.h"

namespace fedlog::sampling {

struct OversampleOptions {
  // Minority neighbours a synthetic row may interpolate towards (capped at minority count - 1).
  int k_neighbors = 5;
  // Neighbours in the whole set that decide danger (BorderlineSMOTE) and hardness (ADASYN).
  int m_neighbors = 10;
  // Generate until minority count = target_ratio * majority count (never removes rows).
  double target_ratio = 1.0;
  // When >= 0, generate exactly this many rows instead of using target_ratio.
  int64_t num_synthetic = -1;
  uint64_t seed = 0;
};

// How a synthetic row was made: row = x[base] + gap * (x[neighbor] - x[base]).
struct SyntheticOrigin {
  size_t base = 0;
  size_t neighbor = 0;
  float gap = 0;
};

struct OversampleResult {
  FeatureMatrix features;  // the input rows in input order, then the synthetic rows
  std::vector<int> labels;
  size_t num_original = 0;
  int minority_label = 0;
  std::vector<SyntheticOrigin> origins;  // origins[j] describes row num_original + j
};

// InvalidArgument when x and y differ in length, a feature is NaN or infinite, y does not hold
// exactly two labels, or options are out of range; FailedPrecondition when the minority class has
// fewer than two rows (no neighbour to move towards).
absl::StatusOr<OversampleResult> Smote(const FeatureMatrix& x, absl::Span<const int> y,
                                       const OversampleOptions& options);
absl::StatusOr<OversampleResult> BorderlineSmote(const FeatureMatrix& x, absl::Span<const int> y,
                                                 const OversampleOptions& options);
absl::StatusOr<OversampleResult> Adasyn(const FeatureMatrix& x, absl::Span<const int> y,
                                        const OversampleOptions& options);

}  // namespace fedlog::sampling

#endif  // FEDLOG_COMMON_SAMPLING_OVERSAMPLE_H_
