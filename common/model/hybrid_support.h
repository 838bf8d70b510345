// Hybrid nearest support (issue 14, seed-labelled LOSO): the learned encoder's similarity and the
// lines' token overlap in one nearest-support rule. Each unit is its unit-norm embedding
// (LineScorer::Embed) and its sorted, unique hashed token set (the encoder's input tokens). The
// similarity of two units is
//     w * cosine(embeddings) + (1 - w) * Jaccard(token sets),   w in [0, 1],
// and a unit scores (most similar anomalous support unit) - (most similar normal one); it alerts
// when the score is > 0, as the Jaccard 1-NN baseline does (w = 0 *is* that baseline; w = 1 is the
// encoder's 1-NN by cosine). The encoder sees token identity only through its 2^15 hashed
// embeddings and the meta-training of the training sources, so on a source type it has never seen
// exact token overlap carries what its cosine misses; the cosine carries what overlap misses
// (paraphrases, the dense features, numbers).
// w is chosen without any test label: from `weights`, the one whose leave-one-out F1-macro on the
// support units themselves (each scored without its own entry) is highest; ties go to the weight
// nearest `tie_weight`. This is a hybrid, not the encoder alone: it is reported as such.
// Torch-free (pure arithmetic). Thread-compatible: Fit builds, Score is const.
#ifndef FEDLOG_COMMON_MODEL_HYBRID_SUPPORT_H_
#define FEDLOG_COMMON_MODEL_HYBRID_SUPPORT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/token_jaccard.h"

namespace fedlog::model {

struct HybridSupportOptions {
  // Candidate encoder weights w, each in [0, 1]; at least one.
  std::vector<double> weights = {0.0, 0.1, 0.25, 0.5, 0.75, 1.0};
  // Among equally good weights, the one nearest this is kept (an even mix unless the support's
  // own leave-one-out scores say otherwise).
  double tie_weight = 0.5;
  absl::Status Validate() const;
};


class HybridSupportDetector {
 public:
  // `support`: [n][dim] unit-norm embeddings; `tokens`: n sorted, unique token sets; `labels`: 0
  // normal, > 0 anomalous. InvalidArgument unless sizes agree, n >= 1, dim >= 1 and the options
  // Validate(). With one class only, or fewer than two units, no leave-one-out choice is possible
  // and w = tie_weight.
  static absl::StatusOr<HybridSupportDetector> Fit(const std::vector<float>& support, size_t dim,
                                                   const std::vector<std::vector<int64_t>>& tokens,
                                                   const std::vector<int>& labels,
                                                   const HybridSupportOptions& options);
  // Most similar anomalous minus most similar normal support unit (a missing class counts as
  // similarity 0); > 0 = anomalous. `embedding`: dim floats; `tokens` sorted and unique.
  double Score(const float* embedding, const std::vector<int64_t>& tokens) const {
    return ScoreWith(weight_, embedding, tokens, -1);
  }
  // The chosen encoder weight and its leave-one-out F1-macro on the support.
  double weight() const { return weight_; }
  double support_f1_macro() const { return support_f1_macro_; }

 private:
  HybridSupportDetector() = default;
  double ScoreWith(double w, const float* embedding, const std::vector<int64_t>& tokens,
                   int64_t skip) const;

  size_t dim_ = 0;
  std::vector<float> support_;
  std::vector<std::vector<int64_t>> tokens_;
  std::vector<int> labels_;
  double weight_ = 0.5;
  double support_f1_macro_ = -1;
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_HYBRID_SUPPORT_H_
