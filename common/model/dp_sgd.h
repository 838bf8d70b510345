// Line-level differential privacy for a site's local work (DP-SGD, Abadi et al. 2016), behind a
// torch-free interface: the contrastive and meta-learning steps of RunSiteRound with every step's
// gradient clipped per micro-batch of lines and noised with common/privacy's CSPRNG Gaussian noise,
// plus the site's accounting of (q, sigma, steps) -> epsilon with common/privacy's RDP accountant.
//
// The mechanism of one step (docs/PRIVACY.md, "Line-level DP-SGD"):
//   1. Poisson sampling: every line joins the step independently with probability q (from the
//      CSPRNG), and every sampled line is put into one of M micro-batches uniformly at random.
//   2. Each micro-batch's loss (InfoNCE over its lines' views; an episode for meta-learning) is
//      backpropagated alone and its gradient clipped to L2 norm C/2.
//   3. The clipped gradients are summed, N(0, (sigma*C)^2) is added per coordinate, and the sum is
//      divided by M (the expected number of micro-batches; a constant, so it leaks nothing).
// Adding or removing one line changes one micro-batch's clipped gradient (or none), by at most
// C/2 + C/2 = C: the per-line sensitivity is C, so each step is the sampled Gaussian mechanism with
// (q, sigma) and the accountant composes those steps. The hashed embedding table (embed.weight)
// trains too (LineDpOptions::train_embedding): its gradient is sparse (the rows of the micro-batch's
// tokens) and counts in the joint clipping norm, but the noise goes on EVERY row, dense, every step,
// so which rows a step touched is hidden. Under DP every trained group steps at one learning rate
// (LineDpOptions::encoder_lr_ratio). Thread-safety: reentrant; torch's intra-op thread count is
// process-wide.
#ifndef FEDLOG_COMMON_MODEL_DP_SGD_H_
#define FEDLOG_COMMON_MODEL_DP_SGD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/encoder_types.h"
#include "common/model/meta_trainer.h"

namespace fedlog::model {

// Line-level DP of the local work (TrainingPlan fields 20-22). Off unless noise_multiplier > 0.
struct LineDpOptions {
  double noise_multiplier = 0;  // sigma; 0: line-level DP off (the non-private path runs)
  double clip = 1.0;            // C: bound on one line's effect on a step's gradient sum
  double delta = 1e-5;          // the run's delta for the epsilon the site reports
  int contrastive_lines_per_microbatch = 8;  // expected lines per contrastive micro-batch
  int meta_lines_per_microbatch = 32;        // expected labeled lines per meta-learning episode
  // Train embed.weight under DP (sparse clipped gradients, dense noise on every row). false: the
  // table stays frozen, as before session 7 (kept for `fedlog eval federated`'s ablation).
  bool train_embedding = true;
  // The shared encoder's (embed, mlp, norm, out) contrastive learning rate relative to the
  // adapters' and head's under DP. The non-private trainer uses 1/50; under DP Adam's step on a
  // noise-dominated gradient is about the learning rate per coordinate whatever the signal, so a
  // rate 1/50 as large leaves the encoder where it started (docs/PRIVACY.md). Meta-learning uses one
  // rate for all groups in both modes.
  double encoder_lr_ratio = 1.0;
  bool enabled() const { return noise_multiplier > 0; }
};

// InvalidArgument unless sigma >= 0, C > 0, delta in (0, 1) (all finite), the micro-batch sizes
// are >= 2 and encoder_lr_ratio is finite and > 0.
absl::Status ValidateLineDpOptions(const LineDpOptions& options);

// `steps` steps of the sampled Gaussian mechanism with sampling rate q and noise multiplier sigma.
struct LineDpPhase {
  std::string name;  // "contrastive" or "meta"
  double q = 0;
  double sigma = 0;
  int64_t steps = 0;
};

// Epsilon at `delta` of the composition of `phases` (RDP summed order by order; an empty list
// gives 0). InvalidArgument for out-of-range values.
absl::StatusOr<double> LineDpEpsilon(absl::Span<const LineDpPhase> phases, double delta);

// The smallest noise multiplier (bisection on the accountant, to a relative 1e-3) for which
// `phases` (their sigma ignored) reach at most `target_epsilon` at `delta`. InvalidArgument when
// even sigma = 1000 does not.
absl::StatusOr<double> NoiseMultiplierForEpsilon(std::vector<LineDpPhase> phases,
                                                 double target_epsilon, double delta);

// Contrastive pre-training (contrastive_trainer.h) under line-level DP: `options.batch_size` is the
// expected number of lines per step (q = batch_size / lines), `options.steps` the number of noisy
// steps. `phase` receives (q, sigma, steps). Losses in the result are computed on the site's lines
// and must stay local.
absl::StatusOr<ContrastiveResult> DpPretrainContrastive(
    const EncoderSpec& spec, const fl::TensorBundle& start, const LineSet& lines,
    const ContrastiveOptions& options, const LineDpOptions& dp, LineDpPhase* phase);

// Meta-learning (meta_trainer.h) under line-level DP on labeled `lines`: each outer step samples
// options.meta_batch micro-batches of expected dp.meta_lines_per_microbatch lines; each becomes one
// binary episode (every line a support or query line by a fair coin; an episode needs both classes
// in its support set and a query line, else it contributes nothing). The curriculum and episode
// options of `options` are not used. global_prototypes stays empty (it would be computed on the
// lines without noise).
absl::StatusOr<MetaResult> DpMetaTrain(const EncoderSpec& spec, const fl::TensorBundle& start,
                                       const LineSet& lines, const MetaOptions& options,
                                       const LineDpOptions& dp, LineDpPhase* phase);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_DP_SGD_H_
