// What the federation learned from other sites' labels, for a site with few or none of its own
// (issue 14, "the federated new site beats the same site alone"). The federated model carries
// `prototypes.global` (site_round.h: [2, out_dim], row 0 normal, row 1 anomalous), the mean
// embeddings of the labelled lines of every federation site. A site alone has no labels at k = 0
// and only its own k labels after that; a site in the federation has the global prototypes too.
//   PrototypePrior: a class prototype is the global one as a prior of `prior_count` pseudo-lines,
//     shrunk towards the mean of the site's own labelled embeddings of that class:
//       p_c = (prior_count * unit(g_c) + sum of z_i with label c) / (prior_count + n_c).
//     With no label it is the federation's; with many it is the site's own. Without a global
//     prototype (the site alone) a class has a prototype only once it has a label. The score of an
//     embedding z is cos(z, p_anomalous) - cos(z, p_normal).
//   RankFuse: the prior score joins the site's label-free score by rank among the site's own
//     earlier units, (1 - w) * Q(label-free) + w * Q(prior), both quantiles in [0, 1], so neither
//     scale dominates and a monotone change of either leaves the order unchanged.
//   RateMatchedAlerts: a fused score needs a cut. The label-free detector's own threshold adapts
//     to the stream; the fused score alerts, in stream order, on as large a share of a trailing
//     window as the label-free detector alerted on in that window: the count from the detector
//     that adapts, the order from the fused score. Live detection can run it as is.
// Torch-free, gRPC-free; pure arithmetic on floats. Thread-compatible: Fit builds, Score is const.
#ifndef FEDLOG_COMMON_MODEL_PROTOTYPE_PRIOR_H_
#define FEDLOG_COMMON_MODEL_PROTOTYPE_PRIOR_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::model {

struct PrototypePriorOptions {
  // Pseudo-lines per class the global prototype counts for against the site's own labels. > 0.
  // 5 by argument, not searched: the same n / (n + 5) pace at which common/fewshot's threshold
  // moves from the label-free one to the labels' (fewshot::FewShotOptions::label_prior), so five
  // labels of a class weigh as much as what the federation says about it.
  double prior_count = 5;
  absl::Status Validate() const;
};

class PrototypePrior {
 public:
  // `global`: 2 * dim floats (row 0 normal, row 1 anomalous), or empty for no prior; a row that is
  // all zeros or not finite counts as absent. `support`: [n][dim] embeddings of the site's
  // labelled lines (unit-norm, as LineScorer::Embed writes them), `labels` 0 normal, > 0
  // anomalous. InvalidArgument for dim 0, sizes that disagree or options that do not Validate().
  static absl::StatusOr<PrototypePrior> Fit(absl::Span<const float> global, size_t dim,
                                            absl::Span<const float> support,
                                            const std::vector<int>& labels,
                                            const PrototypePriorOptions& options = {});
  // Both classes have a prototype (Score is meaningful).
  bool ready() const { return ready_; }
  // cos(z, p_anomalous) - cos(z, p_normal), in [-2, 2]; 0 when !ready(). `z`: dim floats.
  double Score(const float* z) const;
  size_t dim() const { return dim_; }

 private:
  PrototypePrior() = default;
  size_t dim_ = 0;
  bool ready_ = false;
  std::vector<float> unit_[2];  // unit-norm prototype per class (empty: none)
};

// Per unit, (1 - weight) * Q(base[u]) + weight * Q(prior[u]), Q the mid-rank quantile among the
// values of the units `reference` (indices into both vectors). weight in [0, 1]; with an empty
// `prior` (no prototype) the result is Q(base). InvalidArgument for a bad weight, sizes that
// disagree or an empty reference.
absl::StatusOr<std::vector<double>> RankFuse(const std::vector<double>& base,
                                             const std::vector<double>& prior, double weight,
                                             const std::vector<size_t>& reference);

// Alerts in stream order (`score` and `free_alert` per unit, in the order the units complete): unit
// i alerts when score[i] is at least the m-th largest score of the `window` units before it, m the
// number of those units the label-free detector alerted on (free_alert); m = 0 raises no alert.
// The first unit never alerts. window >= 1 (InvalidArgument otherwise or when sizes disagree).
absl::StatusOr<std::vector<uint8_t>> RateMatchedAlerts(const std::vector<double>& score,
                                                       const std::vector<uint8_t>& free_alert,
                                                       size_t window);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_PROTOTYPE_PRIOR_H_
