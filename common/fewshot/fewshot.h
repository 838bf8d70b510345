// fedlog::fewshot: the k > 0 detector of a new site, and its word-overlap baseline. A unit (a line,
// or a session's lines together) is a set of token hashes (its template and its words without
// digits) plus the label-free detector's signals for it (common/novelty: fused score and each raw
// signal, the unit's maximum over its lines). With k labelled units per class:
//   Jaccard 1-NN (the baseline of issue 14, scripts/seed-label-ceiling.py): score = similarity to the
//     nearest anomalous support unit minus similarity to the nearest normal one; alert when > 0.
//   FewShotDetector: L2-regularised logistic regression (common/classic) on [nearest anomalous
//     similarity, nearest normal similarity, their difference, mean similarity to each class, the
//     label-free signals]; a support unit's similarities are computed without itself, so the model
//     learns from what an unseen unit would look like. Its threshold is the F1-best cut of the
//     support's leave-one-out scores (novelty::MaxF1Threshold): no test label is used.
// Torch-free and gRPC-free. Thread-compatible: Fit builds; Score is const.
#ifndef FEDLOG_COMMON_FEWSHOT_FEWSHOT_H_
#define FEDLOG_COMMON_FEWSHOT_FEWSHOT_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/classic/logistic_regression.h"

namespace fedlog::fewshot {

struct Unit {
  std::vector<uint64_t> tokens;  // sorted, unique (AddTokens + Finish)
  std::vector<double> signals;   // label-free features; the same width for every unit
};

// Adds the tokens of one line of a unit: the template id and every word of `content` that holds no
// digit (numbers, ids and addresses are parameters, not vocabulary).
void AddTokens(int32_t template_id, std::string_view content, Unit* unit);
// Sorts and deduplicates the tokens (call once after the last AddTokens).
void Finish(Unit* unit);

// |a ∩ b| / |a ∪ b| of sorted unique token lists; 0 when both are empty.
double Jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

// The Jaccard 1-NN baseline: max similarity to an anomalous support unit minus max similarity to a
// normal one (in [-1, 1]); `skip` excludes one support index (leave-one-out).
double Jaccard1nnScore(const Unit& unit, const std::vector<Unit>& support,
                       const std::vector<int>& labels, int skip = -1);

struct FewShotOptions {
  double l2 = 0.5;  // ridge of the logistic regression (standardised features); few labels need it
};

class FewShotDetector {
 public:
  // InvalidArgument unless both classes are present, sizes match and signal widths agree.
  static absl::StatusOr<FewShotDetector> Fit(const std::vector<Unit>& support,
                                             const std::vector<int>& labels,
                                             const FewShotOptions& options = {});
  // Probability-like score of `unit` being anomalous (higher = more anomalous).
  double Score(const Unit& unit) const;
  // The operating threshold chosen on the support's leave-one-out scores.
  double threshold() const { return threshold_; }

 private:
  FewShotDetector() = default;
  std::vector<float> Features(const Unit& unit, int skip) const;

  std::vector<Unit> support_;
  std::vector<int> labels_;
  classic::LogisticRegression model_;
  double threshold_ = 0.5;
};

}  // namespace fedlog::fewshot

#endif  // FEDLOG_COMMON_FEWSHOT_FEWSHOT_H_
