// Feature selection for the classical detectors: each column is scored by a blend of its mutual
// information with the label and a tree model's importance, and the top K columns are kept (the
// published recipe: 0.6 * MI + 0.4 * random-forest importance, K = 200 of 848). Our harness passes
// XGBoost's total-gain importance (common/classic/xgboost_model.h) as the tree importance; any
// non-negative per-column score works. Both scores are normalised to sum 1 before blending, so the
// weights mean what they say. Thread-safety: pure functions, safe to call concurrently.
#ifndef FEDLOG_COMMON_FEATURES_FEATURE_SELECTION_H_
#define FEDLOG_COMMON_FEATURES_FEATURE_SELECTION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/base/dense_matrix.h"

namespace fedlog::features {

struct SelectionOptions {
  int k = 200;               // columns to keep (all when the matrix has fewer)
  double mi_weight = 0.6;    // weight of normalised mutual information
  double tree_weight = 0.4;  // weight of normalised tree importance
  int bins = 16;             // equal-frequency bins per column for the MI estimate
};

// Mutual information (nats) between each column, discretised into at most `bins` equal-frequency
// bins (equal values always share a bin), and the 0/1 label. InvalidArgument when sizes differ,
// labels are not 0/1, the matrix is empty or bins < 2.
absl::StatusOr<std::vector<double>> MutualInformation(const DenseMatrix& x,
                                                      absl::Span<const int> labels, int bins = 16);

struct FeatureRanking {
  std::vector<int> selected;  // the kept columns, best first (ties: lower column first)
  std::vector<double> score;  // blended score per column
  std::vector<double> mi;     // raw mutual information per column
  std::vector<double> tree;   // tree importance per column, as given
};

// Scores every column and keeps the best options.k. `tree_importance` must have x.cols entries,
// each >= 0 (empty: MI alone). InvalidArgument for bad sizes, negative importance, k < 1 or
// negative weights.
absl::StatusOr<FeatureRanking> RankFeatures(const DenseMatrix& x, absl::Span<const int> labels,
                                            absl::Span<const double> tree_importance,
                                            const SelectionOptions& options);

// The listed columns of `x`, in the given order.
DenseMatrix SelectColumns(const DenseMatrix& x, absl::Span<const int> columns);

}  // namespace fedlog::features

#endif  // FEDLOG_COMMON_FEATURES_FEATURE_SELECTION_H_
