// One site's part of a federated round of the line encoder, and the site's detector built from a
// global model, behind a torch-free interface. The site daemon (client/), `fedlog score` and
// `fedlog eval federated` (tools/offline) all call these, so simulated and real federations run the
// same code.
//
// Tensor naming in a federated line_encoder bundle (docs/MODEL.md):
//   shared parameters (embed.*, mlp.*, norm.*, out.*, head.*)  averaged over every update
//   adapter.<source>.{down,up}.{weight,bias}                   averaged over updates carrying them
//   adapter.<source>.prototypes  [2, out_dim]                   per-source normal/anomalous prototypes
//   prototypes.global            [2, out_dim]                   prototypes over every labeled site
// The `adapter.` and `prototypes.` tensors are optional: the aggregator creates one when the first
// update carrying it arrives (an update's delta for a tensor the base lacks is its full value), and a
// site downloads only its own sources' adapters.
// Thread-safety: reentrant; torch's intra-op thread count is process-wide (RuntimeOptions::threads).
#ifndef FEDLOG_COMMON_MODEL_SITE_ROUND_H_
#define FEDLOG_COMMON_MODEL_SITE_ROUND_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/dp_sgd.h"
#include "common/model/encoder_types.h"
#include "common/model/few_shot.h"

namespace fedlog::model {

// Local work of one round (TrainingPlan in federation.proto).
struct LocalWork {
  int contrastive_steps = 30;  // InfoNCE steps on every local line (no labels needed)
  int meta_iterations = 10;    // outer meta-learning steps on labeled lines (skipped without 2 classes)
  int inner_steps = 1;         // MAML inner steps (0: plain prototypical network)
  int batch_size = 256;
  float learning_rate = 1e-3f;  // adapters/head; the shared encoder uses the trainers' ratio
  float fedprox_mu = 0;         // proximal term mu/2 * ||w - w_global||^2 on the shared parameters
  // Token-overlap alignment weight of both kinds of steps (ContrastiveOptions / MetaOptions
  // ::jaccard_weight); 0: off. Not applied under line DP (its trainers clip their own losses).
  float jaccard_weight = 0;
  // Line-level DP-SGD (dp_sgd.h) for both kinds of steps when line_dp.enabled(); batch_size is then
  // the expected lines per contrastive step.
  LineDpOptions line_dp;
  RuntimeOptions runtime;
};

struct SiteRoundResult {
  fl::TensorBundle weights;  // full weights after the local work: shared + this site's adapters and
                             // adapter.<source>.prototypes (+ prototypes.global with labels)
  int64_t samples = 0;
  int64_t distinct_templates = 0;
  double imbalance_ratio = 1;  // normal : anomalous among labeled lines; 1 when unknown
  double contrastive_loss = 0;
  double meta_loss = 0;  // 0 when no meta-learning ran
  double seconds = 0;
  std::map<std::string, double> metrics;  // e.g. "train_contrastive_loss", "val_f1"
  // Line-level DP only: the round's mechanisms (q, sigma, steps) for the site's ledger, and the
  // epsilon of this round alone at line_dp.delta (compose the phases of every round with
  // LineDpEpsilon for the run's). With line DP on, the losses and metrics above are left out (they
  // are computed on the lines without noise; moved to local_only) and no prototypes are sent.
  std::vector<LineDpPhase> line_dp_phases;
  double line_dp_round_epsilon = 0;
  // Line-level DP only: the metrics removed above (losses of the DP steps' micro-batches, computed
  // on the lines without noise), for the site's own diagnostics; never put in an update.
  std::map<std::string, double> local_only;
};

// The site's starting weights for a round: `global` (shared tensors plus whatever adapters it
// carries) completed with identity adapters for every source in `sources` that has none yet.
// `spec.sources` is ignored; the returned spec (via SiteSpec) lists `sources`.
absl::StatusOr<fl::TensorBundle> PrepareSiteWeights(const EncoderSpec& spec,
                                                    const fl::TensorBundle& global,
                                                    const std::vector<std::string>& sources);
// `spec` with exactly `sources` as adapters.
EncoderSpec SiteSpec(const EncoderSpec& spec, const std::vector<std::string>& sources);

// Runs `work` from `start` (PrepareSiteWeights output; `spec` = SiteSpec of the same sources) on
// `train`: contrastive steps on every line, then meta-learning on the labeled ones, then fresh
// prototypes from the labeled ones (only those computed here are in the result; prototype tensors
// of `start` are dropped). With work.line_dp enabled the steps run under DP-SGD (dp_sgd.h; the
// contrastive ones only with line_dp.contrastive) and no prototypes are computed from the lines:
// the result carries the encoder, plus, with the per-line objective, the prototypes.global it
// trained under DP (starting from `start`'s). `train.labels` is empty or one per line, -1 marking an unlabeled line
// (e.g. a source without a labels file). `validation` (labeled, may be empty) gives the val_*
// metrics.
absl::StatusOr<SiteRoundResult> RunSiteRound(const EncoderSpec& spec, const fl::TensorBundle& start,
                                             const LineSet& train, const LineSet& validation,
                                             const LocalWork& work);

// The site's detector from `weights` (a global or local model, prototypes.* tensors optional) and
// its k labeled `support` lines (may be empty: then the mean of its sources'
// adapter.<source>.prototypes, else prototypes.global, fill the classes the support set lacks;
// FailedPrecondition when there are none). `validation` (labeled, may be empty) calibrates and
// picks the threshold. Adapters of sources `spec` does not list are ignored.
absl::StatusOr<FewShotModel> BuildSiteDetector(const EncoderSpec& spec,
                                               const fl::TensorBundle& weights,
                                               const LineSet& support, const LineSet& validation,
                                               const AdaptOptions& options);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SITE_ROUND_H_
