// Decision cuts for the hybrid nearest support (hybrid_support.h) without a target label (issue 14,
// seed-labelled LOSO). The hybrid's score ranks a new source's lines better than word overlap does,
// but its natural cut (alert when the nearest anomalous support line is strictly nearer, score > 0)
// alerts too much: a line unlike every support line ties at Jaccard 0 and the word-overlap 1-NN
// calls it normal (the majority class of a log stream), while the cosine half of the hybrid turns
// such ties into a coin toss. Two ways to move the cut, both label-free on the target:
//  - CutForAlertCount: alert exactly the n best-ranked lines, n taken from a rule whose count is
//    trusted (the Jaccard 1-NN's alert count on the same unlabelled lines): the count from the rule
//    that decides well, the order from the one that ranks well.
//  - OffsetTally: a margin added to the cut, chosen on pseudo-targets (the training sources'
//    held-out lines), per encoder weight: the margin with the best mean F1-macro.
// Torch-free arithmetic. Thread-compatible (OffsetTally: Add mutates, the rest is const).
#ifndef FEDLOG_COMMON_MODEL_HYBRID_CUT_H_
#define FEDLOG_COMMON_MODEL_HYBRID_CUT_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::model {

// F1-macro (both classes' F1, averaged) of `score >= threshold` against `labels` (0 normal,
// > 0 anomalous). Sizes must agree (the shorter one bounds the loop).
double F1MacroAt(const std::vector<double>& scores, const std::vector<int>& labels,
                 double threshold);

// How CutForAlertCount treats a block of equal scores across the n-th place.
enum class CountTies {
  kNormal,   // the whole block stays below the cut (fewer alerts; the 1-NN's strict comparison)
  kNearest,  // the block goes to the side whose alert count is nearer n (equal: below the cut)
};
// The threshold t such that `score >= t` holds for the `n` highest scores. When the n-th and the
// (n+1)-th highest tie, `ties` decides (kNormal: all tied scores stay below t). kNearest suits
// scores with large blocks of duplicates (a stream's repeated lines), where kNormal can drop every
// alert. n = 0, or no scores: t lies above the maximum. n > scores.size() alerts every score.
double CutForAlertCount(const std::vector<double>& scores, size_t n,
                        CountTies ties = CountTies::kNormal);

// Mean F1-macro per (encoder weight, cut offset) over pseudo-targets; the cut for a pseudo-target
// is `score >= offset + epsilon` (epsilon = 1e-9, the strict 1-NN comparison).
class OffsetTally {
 public:
  // Weights and offsets: at least one each, finite. InvalidArgument otherwise.
  static absl::StatusOr<OffsetTally> Create(std::vector<double> weights,
                                            std::vector<double> offsets);
  // Adds one pseudo-target scored with weights()[wi]. InvalidArgument when wi is out of range or
  // the sizes disagree.
  absl::Status Add(size_t wi, const std::vector<double>& scores, const std::vector<int>& labels);
  // The offset with the best mean F1-macro for the weight equal to `w` (ties: the offset nearest 0,
  // i.e. nearest the plain 1-NN rule). NotFound when `w` is not one of weights(),
  // FailedPrecondition when nothing was added for it.
  absl::StatusOr<double> BestOffset(double w) const;
  // Mean F1-macro at (weight index, offset index); -1 when nothing was added for that weight.
  double Mean(size_t wi, size_t oi) const;
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& offsets() const { return offsets_; }

 private:
  OffsetTally() = default;
  std::vector<double> weights_, offsets_;
  std::vector<std::vector<double>> sum_;  // [weight][offset]
  std::vector<int> count_;                // pseudo-targets added per weight
};

// The offsets `eval detect`'s `encoder-jaccard-devcut` row chooses from: similarity margins
// (the hybrid's score is a difference of similarities in [-1, 1]), 0 being the plain 1-NN rule.
std::vector<double> DefaultCutOffsets();

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_HYBRID_CUT_H_
