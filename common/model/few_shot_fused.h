// The encoder's fused few-shot detector (issue 14 item 2): nearest support in the encoder's space
// where a labelled unit is near, the label-free score everywhere else. A unit (a line, or a
// session's lines pooled, then centred on the site's mean: CentreEmbeddings) is its unit-norm
// embedding (LineScorer::Embed, or PoolEmbeddings) and the
// score a label-free detector gave it (common/novelty's calibrated score, or the encoder's own k =
// 0 P(anomalous)). With k labelled units per class:
//   - a unit whose most similar labelled unit has cosine similarity >= `match` takes that unit's
//     class: score 2 + similarity when it is anomalous, -1 - similarity when normal;
//   - any other unit keeps its label-free score (expected in [0, 1]).
// So labels decide what they cover and a few labels never replace the whole stream's evidence with
// a vote between two distant neighbours. The threshold starts at the label-free one and moves
// towards the support's F1-best cut on leave-one-out scores as n / (n + label_prior), as
// common/fewshot's Jaccard detector (the same rule on token overlap) and novelty::SiteThreshold do.
// The cosine scale depends on the encoder, so `MatchFromReference` turns a quantile of a sample's
// nearest-neighbour similarities into `match`: each encoder is held to the same relative nearness.
// Torch-free (no torch header; pure arithmetic on floats). Thread-compatible: Fit builds, Score and
// Alert are const.
#ifndef FEDLOG_COMMON_MODEL_FEW_SHOT_FUSED_H_
#define FEDLOG_COMMON_MODEL_FEW_SHOT_FUSED_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::model {

struct FusedFewShotOptions {
  // Least cosine similarity to the nearest labelled unit for its label to decide, in (-1, 1].
  double match = 0.9;
  // The threshold moves from the label-free one towards the support's leave-one-out F1-best cut as
  // n / (n + label_prior) with n labels. > 0.
  double label_prior = 10;
  absl::Status Validate() const;
};

// Unit-norm mean of the rows `rows` of `embeddings` ([rows][dim], each row unit-norm): a session's
// embedding. All zeros when `rows` is empty or the mean is zero.
std::vector<float> PoolEmbeddings(const std::vector<float>& embeddings, size_t dim,
                                  const std::vector<int64_t>& rows);

// Centres `embeddings` ([n][dim]) on the mean of its rows `reference` and makes every row unit-norm
// again (a row equal to the mean becomes all zeros). Pooled session embeddings of one site share
// most of their lines, so they lie within a narrow cone (HDFS blocks: nearest-neighbour cosine
// 0.993-0.998); removing the site's own mean direction leaves what tells sessions apart. No label
// is used. No-op when `reference` is empty.
void CentreEmbeddings(std::vector<float>* embeddings, size_t dim,
                      const std::vector<size_t>& reference);

// The `quantile` (in [0, 1]) of each sample row's largest cosine similarity to another sample row
// (`sample`: [n][dim] unit-norm rows, n >= 2). InvalidArgument for a bad quantile or sample.
absl::StatusOr<double> MatchFromReference(const std::vector<float>& sample, size_t dim,
                                          double quantile);

class FusedFewShotDetector {
 public:
  // `support`: [n][dim] unit-norm embeddings of the labelled units; `support_free`: their
  // label-free scores; `labels` 0 normal, > 0 anomalous (one class alone is fine: its lookups still
  // decide the units near it); `free_threshold`: the lowest label-free score the site alerts on.
  // InvalidArgument unless sizes agree, n >= 1, dim >= 1 and the options Validate().
  static absl::StatusOr<FusedFewShotDetector> Fit(const std::vector<float>& support, size_t dim,
                                                  const std::vector<double>& support_free,
                                                  const std::vector<int>& labels,
                                                  const FusedFewShotOptions& options,
                                                  double free_threshold);
  // Higher = more anomalous (see the header comment for the scale). `embedding`: dim floats.
  double Score(const float* embedding, double free_score) const;
  // The site's decision: Score >= threshold().
  bool Alert(const float* embedding, double free_score) const {
    return Score(embedding, free_score) >= threshold_;
  }
  double threshold() const { return threshold_; }
  // True when the unit is within `match` of a labelled unit (its label decides).
  bool Matched(const float* embedding) const;

 private:
  FusedFewShotDetector() = default;
  // Largest similarity to an anomalous and to a normal labelled unit, without support index `skip`.
  void Nearest(const float* embedding, int64_t skip, double* anomalous, double* normal) const;
  double ScoreWithout(const float* embedding, double free_score, int64_t skip) const;

  FusedFewShotOptions options_;
  size_t dim_ = 0;
  std::vector<float> support_;
  std::vector<int> labels_;
  double threshold_ = 1.0;
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_FEW_SHOT_FUSED_H_
