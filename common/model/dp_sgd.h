// Line-level differential privacy for a site's local work (DP-SGD, Abadi et al. 2016), behind a
// torch-free interface: the contrastive and meta-learning steps of RunSiteRound with every step's
// gradient clipped per micro-batch of lines and noised with common/privacy's CSPRNG Gaussian noise,
// plus the site's accounting of (q, sigma, steps) -> epsilon with common/privacy's RDP accountant.
//
// The mechanism of one step (docs/PRIVACY.md, "Line-level DP"):
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
// (LineDpOptions::encoder_lr_ratio). The labelled phase has two objectives: by default each
// sampled labelled line's own loss against learnable class prototypes, clipped per line to C
// (DpSupervisedTrain: classes sampled at separate rates, the accountant charging the larger), or
// the micro-batch episodes above (DpMetaTrain). Under DP the contrastive phase is off by default
// (LineDpOptions::contrastive). Thread-safety: reentrant; torch's intra-op thread count is
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
#include "common/privacy/gaussian_noise.h"

namespace fedlog::model {

// What the labelled phase of line-level DP optimises (LineDpOptions::labeled_objective).
enum class LabeledDpObjective { kPerLine, kEpisodes };
// "per_line" / "episodes"; InvalidArgument for anything else.
absl::StatusOr<LabeledDpObjective> ParseLabeledDpObjective(const std::string& name);
const char* LabeledDpObjectiveName(LabeledDpObjective objective);

// Which tensors the per-line objective trains under DP (LineDpOptions::scope, TrainingPlan 27).
// kAdapters: only the site's adapter.<source>.* tensors and prototypes.global (about 8.5k
// coordinates a source plus 2 x out_dim); the encoder (embed, mlp, norm, out) and the head stay
// exactly the round's start (the global model), so their update is exactly zero and carries nothing
// from the lines. kAll: every encoder tensor as well (session 8; embed.weight as train_embedding).
enum class DpScope { kAdapters, kAll };
// "adapters" / "all"; InvalidArgument for anything else.
absl::StatusOr<DpScope> ParseDpScope(const std::string& name);
const char* DpScopeName(DpScope scope);

// Line-level DP of the local work (TrainingPlan fields 20-26). Off unless noise_multiplier > 0.
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
  // The labelled phase under DP (TrainingPlan 23-26, docs/PRIVACY.md "The labelled phase: per-line
  // supervised DP"):
  // kPerLine: DpSupervisedTrain below, each sampled labelled line's own loss against learnable
  // class prototypes, clipped per line to C; kEpisodes: DpMetaTrain's micro-batch episodes.
  LabeledDpObjective labeled_objective = LabeledDpObjective::kPerLine;
  // Run the label-free contrastive phase under DP. Off by default: without DP it does not raise F1
  // on HDFS (docs/EVALUATION.md), and every step it takes is composed into epsilon, raising sigma
  // for the labelled steps.
  bool contrastive = false;
  // kPerLine: the Poisson rate of every anomalous labelled line (the accountant's q; stratified
  // sampling, see DpSupervisedTrain) and the expected normal labelled lines per step (their rate is
  // min(anomalous_rate, normal_lines_per_step / normal lines), never above the accounted q).
  double anomalous_rate = 1.0;
  int normal_lines_per_step = 64;
  // kPerLine: the tensors it trains (DpScope). The contrastive and episode phases always train the
  // whole encoder (embed.weight as train_embedding). Default kAdapters (docs/PRIVACY.md, "Few
  // coordinates under line DP"): the noise norm of a step grows with the square root of the number
  // of coordinates it covers, so covering ~10k instead of 2.2M keeps a line's signal above it.
  DpScope scope = DpScope::kAdapters;
  // The release of per-class embedding sums and counts (common/privacy/class_sums.h; TrainingPlan 29-30): the
  // stddev s of the Gaussian noise on every value (0: no release), and whether this round releases (a run
  // releases once, in its plan's release round). RunSiteRound adds `prototypes.release` to the weights and the
  // step ("prototypes", q = 1, s / sqrt(2), 1) to the round's phases.
  double prototype_noise = 0;
  bool release_prototypes = false;
  // Under secure aggregation the release's noise is distributed (privacy::ClassSumShareStddev): each site adds
  // N(0, prototype_noise^2 / prototype_noise_shares), the shares being the round's threshold t, so the sum of
  // any >= t sites carries the whole s. 1: every site adds all of s (no secure aggregation).
  int prototype_noise_shares = 1;
  // The release's form (TrainingPlan 32): true = sums only, sensitivity 1, step ("prototypes", q = 1, s, 1)
  // (privacy::ClassSumForm::kDirections); false = sums and counts, as above.
  bool prototype_directions = false;
  bool enabled() const { return noise_multiplier > 0; }
};

// InvalidArgument unless sigma >= 0, C > 0, delta in (0, 1) (all finite), the micro-batch sizes
// are >= 2, encoder_lr_ratio is finite and > 0, anomalous_rate is in (0, 1] and
// normal_lines_per_step >= 1, prototype_noise is 0 or in privacy::IsValidClassSumNoise's range, and
// prototype_noise_shares is in 1..4096.
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

// The mechanisms one round of RunSiteRound (site_round.h) runs under line-level DP, sigma
// included, for a site with `lines` lines of which `labeled` carry a label (>= 0) and
// `meta_learnable` says whether the episodes objective has a usable source (MetaLearnable in
// site_round.cc; unused by kPerLine): the contrastive phase when dp.contrastive and contrastive
// steps > 0, at q = min(batch, lines) / lines; then the labelled phase when meta_iterations > 0:
// kPerLine ("per_line") whenever labeled > 0, at q = anomalous_rate; kEpisodes ("meta") when
// meta_learnable, at q = min(1, 8 x meta_lines_per_microbatch / labeled). RunSiteRound records
// exactly these; planners (a target epsilon) compose them over the rounds.
std::vector<LineDpPhase> PlanLineDpRound(const LineDpOptions& dp, int contrastive_steps,
                                         int meta_iterations, int batch_size, int64_t lines,
                                         int64_t labeled, bool meta_learnable);

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

// The labelled phase with the per-line objective (LabeledDpObjective::kPerLine).
struct DpSupervisedResult {
  fl::TensorBundle weights;  // the encoder's tensors (as `start`) plus prototypes.global [2, out_dim]
  double initial_loss = 0;   // mean per-line loss of the first / last steps' sampled lines: computed
  double final_loss = 0;     // on the lines without noise, local only
  int64_t lines_sampled = 0;  // per-line gradients taken over all steps (local only)
  double seconds = 0;
};

// `options.meta_iterations` noisy steps on labelled `lines` (labels 0 normal, > 0 anomalous, one
// per line). Each step samples every anomalous line with probability dp.anomalous_rate and every
// normal line with probability min(dp.anomalous_rate, dp.normal_lines_per_step / normal lines)
// (independently, CSPRNG bits), and each sampled line alone gives the loss
//   CE(softmax(-distance_scale * |z - p_c|^2 over c = normal, anomalous), its class)
// of its embedding z against the learnable prototypes p (prototypes.global; from `prototypes`
// when it is a [2, out_dim] tensor, else -/+ 0.5 v, v = (1, -1, 1, ...) / sqrt(out_dim): data-independent). Its gradient over every trained
// group (embed.weight as dp.train_embedding; mlp, norm, out, adapters and p) is clipped to C on
// its own; the step writes (sum + N(0, (sigma C)^2)) / dp.normal_lines_per_step, dense, and Adam
// at options.meta_lr steps. With dp.scope kAdapters only the adapters and p are trained (and
// noised, clipped and summed); every other tensor of `weights` is `start`'s, bit for bit. One line changes the sum by at most C and only through its own
// gradient: the sampled Gaussian mechanism at q = dp.anomalous_rate (the largest rate of any line).
// `phase` receives ("per_line", anomalous_rate, sigma, steps).
absl::StatusOr<DpSupervisedResult> DpSupervisedTrain(const EncoderSpec& spec,
                                                     const fl::TensorBundle& start,
                                                     const fl::NamedTensor* prototypes,
                                                     const LineSet& lines,
                                                     const MetaOptions& options,
                                                     const LineDpOptions& dp, LineDpPhase* phase);

// The per-line objective's two Poisson rates for labelled lines `labels` (0 normal, > 0 anomalous):
// anomalous = dp.anomalous_rate; normal = min(dp.anomalous_rate, dp.normal_lines_per_step /
// normal lines), so no line is sampled above the rate the accountant charges.
struct StratifiedRates {
  double anomalous = 0;
  double normal = 0;
};
StratifiedRates PerLineRates(const std::vector<int>& labels, const LineDpOptions& dp);

// One step's Poisson sample: every row i with labels[i] > 0 joins with probability anomalous_rate,
// every row with labels[i] == 0 with normal_rate, independently (bits from `sampler`, a CSPRNG);
// unlabelled rows (-1) never. Rows in increasing order.
std::vector<int64_t> StratifiedPoissonSample(const std::vector<int>& labels, double anomalous_rate,
                                             double normal_rate,
                                             privacy::GaussianSampler& sampler);

// For tests: the sum over `rows` (repeats allowed) of each line's per-line gradient, clipped alone
// to dp.clip, without noise, at `start` / `prototypes` (as DpSupervisedTrain, dropout off, CPU),
// one tensor per trained parameter of dp.scope (named as in the bundle, prototypes.global last).
absl::StatusOr<fl::TensorBundle> DpPerLineClippedSum(const EncoderSpec& spec,
                                                     const fl::TensorBundle& start,
                                                     const fl::NamedTensor* prototypes,
                                                     const LineSet& lines,
                                                     const std::vector<int64_t>& rows,
                                                     const LineDpOptions& dp,
                                                     double distance_scale);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_DP_SGD_H_
