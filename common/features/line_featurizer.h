// LineFeaturizer: turns one log line's content into a fixed-length float vector, identically for training and
// live scoring. Tokens are lower-cased, digits masked (so "blk_123" and "blk_456" hash alike), and hashed into
// `hash_dim` buckets (counts normalised to sum 1); a few dense shape features follow the hashed block.
// Thread-safe: Featurize is const and keeps no state.
#ifndef FEDLOG_COMMON_FEATURES_LINE_FEATURIZER_H_
#define FEDLOG_COMMON_FEATURES_LINE_FEATURIZER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/base/dense_matrix.h"

namespace fedlog::features {

struct LineFeaturizerOptions {
  int hash_dim = 128;  // hashed token buckets
};

class LineFeaturizer {
 public:
  static constexpr int kDenseDims = 6;  // see DenseNames()

  explicit LineFeaturizer(LineFeaturizerOptions options = {});

  int dim() const { return options_.hash_dim + kDenseDims; }
  // Writes dim() floats for `content` into `out`.
  void Featurize(absl::string_view content, float* out) const;
  DenseMatrix FeaturizeAll(const std::vector<std::string>& contents) const;
  // Names of the dense dimensions, in order, after the hashed block.
  static std::vector<std::string> DenseNames();

 private:
  LineFeaturizerOptions options_;
};

}  // namespace fedlog::features

#endif  // FEDLOG_COMMON_FEATURES_LINE_FEATURIZER_H_
