// The encoder part of fewshot::FewShotDetector (FewShotOptions::encoder_weight > 0; fewshot.h):
// the site's own labels' class means in its encoder space, and the rank scale that joins their score
// to the label-free one. For a unit with embedding z:
//   encoder score  e(z) = cos(z, p_anomalous) - cos(z, p_normal), p_c the direction of the mean of
//                  the labelled units' unit-norm embeddings of class c (model::PrototypePrior with no
//                  global prototype: nothing from other sites);
//   fused score    (1 - w) * Q_free(free_score) + w * Q_enc(e(z)), both Q the mid-rank quantile among
//                  the reference units (the stream's recent units), in [0, 1]; a unit without an
//                  embedding (empty, or another width) takes the neutral rank 0.5 for the encoder.
// The reference's fused scores come sorted with its label-free alert rate, so the detector can set
// its operating point at the rate the label-free detector alerted at (fewshot::OperatingPoint).
// Internal to fedlog_fewshot. Torch-free, gRPC-free. Thread-compatible: Fit builds, the rest is const.
#ifndef FEDLOG_COMMON_FEWSHOT_ENCODER_RANK_H_
#define FEDLOG_COMMON_FEWSHOT_ENCODER_RANK_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "common/fewshot/fewshot.h"
#include "common/model/prototype_prior.h"

namespace fedlog::fewshot::internal {

class EncoderRank {
 public:
  // nullptr unless both classes have a labelled unit with an embedding and at least two reference
  // units have one of the same width. weight in (0, 1] (the caller validated it).
  static std::unique_ptr<EncoderRank> Fit(const std::vector<Unit>& support, const std::vector<int>& labels,
                                          const std::vector<const Unit*>& reference, double weight);
  // e(z) of the unit's embedding; NaN without one of the right width.
  double EncoderScore(const Unit& unit) const;
  // The fused score, in [0, 1].
  double Fused(const Unit& unit) const;
  // The reference units' fused scores, ascending, and the share of them the label-free detector
  // alerted on (Unit::free_alert).
  const std::vector<double>& reference_fused() const { return reference_fused_; }
  double alert_rate() const { return alert_rate_; }

 private:
  EncoderRank() = default;
  double weight_ = 0;
  size_t dim_ = 0;
  std::optional<model::PrototypePrior> means_;  // the labels' class means, no global prior
  std::vector<double> free_sorted_, encoder_sorted_, reference_fused_;
  double alert_rate_ = 0;
};

}  // namespace fedlog::fewshot::internal

#endif  // FEDLOG_COMMON_FEWSHOT_ENCODER_RANK_H_
