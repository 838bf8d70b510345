// `fedlog eval federated`: K simulated sites in one process, trained with the daemons' code paths
// (model::RunSiteRound for a site's round, model::BuildSiteDetector for its detector, common/fl for
// the aggregation) but without gRPC, and compared with a centralized model (every site's training
// lines pooled, the same total work) and local-only models (each site alone, the same work).
//   sources  seed-labeled loghub-2k sources grouped into sites of 2-4 sources, plus a held-out site
//            that joins late with unlabeled lines and k labeled lines per class; line F1
//   hdfs     HDFS_v1 2% split over sites by block-id hash with skewed anomaly rates; block F1
//   bgl      BGL 20k in contiguous slices, one per site; line F1
// Lines reach the encoder only through common/model/line_input.h after FeaturizeLog, each site with
// its own parser, Drain and featurizer, as a daemon has. Internal to tools/offline: the pieces live
// in eval_federated_{data,sim,site_scores,private,report,verb}.cc (the simulation's shared pieces:
// eval_federated_sim.h). Thread-compatible: one simulation runs on the calling thread (torch's
// intra-op pool is sized by `threads`).
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_FEDERATED_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_FEDERATED_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/eval/metrics.h"
#include "common/fewshot/detector_choice.h"
#include "common/fewshot/fewshot.h"
#include "common/fl/adaptive_clip.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/dp_sgd.h"
#include "common/model/encoder_types.h"
#include "common/privacy/gaussian_noise.h"

namespace fedlog::offline {

struct FederatedOptions {
  std::string protocol;  // sources | hdfs | bgl
  std::string data_dir;
  std::string out_dir;
  int rounds = 10;
  int sites = 0;  // 0: the protocol's default (sources 5 + the held-out site, hdfs 5, bgl 4)
  int contrastive_steps = 30;  // per site and round (LocalWork)
  int meta_iterations = 10;    // per site and round (LocalWork)
  int inner_steps = 1;         // MAML inner steps in the rounds
  int batch_size = 256;
  float fedprox_mu = 0;
  float jaccard_weight = 0;  // LocalWork::jaccard_weight (eval newsite --fed-jaccard-weight)
  std::string strategy = "weighted_fedavg";  // fl::ParseStrategy names
  // Adaptive clipping's M (common/fl/adaptive_clip.h), as the aggregator applies it to plain rounds; 0 = off
  // (--adaptive-clip M|off). Not applied to a secure-aggregation or site-level DP federation (the aggregator
  // does not clip those either).
  double adaptive_clip_multiple = fl::kDefaultAdaptiveClipMultiple;
  uint64_t seed = 7;
  int threads = 1;              // torch intra-op threads
  int shots = 10;               // labeled lines per class in every site's detector support set
  int max_train_lines = 20000;  // per site: training lines kept (seeded subsample above it)
  // > 0: every site also continues alone from the final global model for this many rounds of the
  // same local work ("tuned") and keeps that model when its validation F1 is not lower
  // ("personalised", model::PersonaliseSite); local-only models then get as many extra rounds.
  // With --dp-mode the private federation's model is personalised the same way ("tuned_dp",
  // "personalised_dp"): non-private local rounds whose weights never leave the site.
  int personalise_rounds = 0;
  bool run_centralized = true;
  bool run_local = true;
  // Differential privacy (eval_federated_dp.cc): "" off; "line": DP-SGD in every site's local work
  // (model::LineDpOptions); "site": every site's round update clipped to dp_clip and noised with its
  // share of sigma*C (common/privacy/site_dp.h), averaged unweighted. With a mode the run trains
  // the non-private federation ("federated") and the private one ("federated_dp") from the same
  // start with the same work, and reports the epsilon reached at dp_delta.
  std::string dp_mode;
  double dp_noise_multiplier = 0;  // sigma; line mode with target_epsilon > 0: picked by bisection
  double dp_clip = 1.0;            // C: per line (line) or per site update (site)
  double dp_delta = 1e-5;
  double target_epsilon = 0;  // line mode: > 0 picks the smallest sigma whose epsilon is <= it
  // Line mode, for the ablation of docs/EVALUATION.md (model::LineDpOptions): train embed.weight
  // under DP (--dp-freeze-embedding turns it off) and the shared encoder's contrastive rate relative
  // to the adapters' (--dp-encoder-lr-ratio; the non-private trainer's is 0.02).
  bool dp_train_embedding = true;
  double dp_encoder_lr_ratio = 1.0;
  // Line mode, the labelled phase (model::LineDpOptions, docs/PRIVACY.md): its objective
  // (--dp-objective), the contrastive phase under DP (--dp-contrastive), the per-line objective's
  // anomalous-line rate (--dp-anomalous-rate) and expected normal lines per step (--dp-normal-lines).
  model::LabeledDpObjective dp_objective = model::LabeledDpObjective::kPerLine;
  bool dp_contrastive = false;
  double dp_anomalous_rate = 1.0;
  int dp_normal_lines = 64;
  // Line mode, per-line objective: the tensors trained under DP (--dp-scope adapters|all;
  // model::DpScope, default adapters).
  model::DpScope dp_scope = model::DpScope::kAdapters;
  // --dp-private-only: skip the non-private federation and its personalisation (needs --dp-mode and
  // --no-baselines). They are deterministic for fixed options (threads 1), so a second target
  // epsilon with the same options need not repeat them; results.md then has no `fed` column.
  bool dp_private_only = false;
  // Line mode: the stddev of the Gaussian noise on the line count that weighs each site's update
  // (--dp-count-noise; common/privacy/line_count.h), charged to the site's epsilon every round.
  double dp_count_noise = 100;
  // Line mode: the release of per-class embedding sums and counts in the final round
  // (common/privacy/class_sums.h), which a site without labels of a class detects with. Its noise
  // stddev is --dp-prototype-noise S when > 0; else, with --target-epsilon and --dp-prototype-share F
  // in (0, 1), the smallest stddev at which the release alone spends F of the target (the product's
  // rule is F = privacy::kDefaultClassSumShare, 0.5), and sigma then covers the rest. Default 0: no
  // release, so earlier sessions' commands compute what they computed.
  double dp_prototype_noise = 0;
  double dp_prototype_share = 0;
  // The release's form (session 14, docs/PRIVACY.md "The release's form"): by default, as `fedlog run start`,
  // the class sums only (sensitivity 1; a site lacking a class takes the pooled sum's direction);
  // --dp-prototype-counts releases sums and counts (sensitivity sqrt(2)), as sessions 12-13 did.
  bool dp_prototype_counts = false;
  // Line mode with a release: --secure-aggregation releases the class sums as the product does under secure
  // aggregation (docs/PRIVACY.md, "The class-sum release under secure aggregation"): each site adds the noise
  // share N(0, s^2 / t), t = --secagg-threshold T or, 0, the product's default (a majority of the release
  // round's participants, at least 2), and a site whose released weight is below
  // privacy::MinReleaseWeight(--secagg-clip-range R, dp_count_noise, s / sqrt(t)) drops out of that round (the
  // daemon refuses to mask); the release's values are clamped to [-R, R] as the quantiser does. The accountant
  // charges s, as before. Nothing else of secure aggregation is simulated (its mean equals the plain weighted
  // mean within the quantisation error, tests/integration/secagg_test.cc).
  bool secure_aggregation = false;
  int secagg_threshold = 0;
  double secagg_clip_range = 4.0;
  // --initial-model FILE: every model (both federations, the baselines) starts from this bundle instead
  // of the untrained weights, checked by model::LoadInitialModel; e.g. `fedlog model pretrain`'s public
  // pre-trained model, whose FILE.json must list the protocol's system among its excluded systems
  // (CheckInitialModelData). "" = the untrained start.
  std::string initial_model;
  // The "label_free", "choice" and "choice_dp" rows (SiteLabelFree below) for the sites with a stream.
  // `fedlog eval federated` turns them on (--no-choice: off); other callers of the simulation leave them off.
  bool choice_rows = false;
  // The choice rows' leave-one-out units (--choice-compare templates|lines; fewshot::ChoiceOptions::compare,
  // detect.detector_choice_compare).
  fewshot::CompareUnits choice_compare = fewshot::ChoiceOptions().compare;
  // >= 0: that site (by index) keeps none of its anomalous labels (--withhold-anomalous-labels K;
  // WithholdAnomalousLabels), so it detects the anomalous class with the federation's pooled knowledge as
  // HDFS site-4 does: a tuning protocol for the class-sum release on BGL. -1: off.
  int withhold_anomalous_site = -1;
  // > 0: every site (held-out sites excepted) keeps at most this many anomalous training labels, a
  // seeded sample (--max-anomalous-labels N; SplitSite), the rest unlabelled, and draws its anomalous
  // support lines from the kept ones: the few-labels regime of the class-sum release (HDFS's
  // labelled sites pool 20) on a protocol with many. 0: off.
  int max_anomalous_labels = 0;
  // Line mode with a release: > 0 projects every site's class sums onto the top-r principal directions of the
  // public lines' embeddings under the release round's global model and noises them there
  // (--dp-release-subspace R; common/privacy/release_subspace.h, ReleaseBasis below); 0: the full release.
  // dp_release_basis says how the public lines are embedded: "shared" (the shared encoder, no adapter) or
  // "adapter" (through the federation's adapter of the sites' source) (--dp-release-basis).
  int dp_release_subspace = 0;
  std::string dp_release_basis = "shared";
  // --dp-subspace-diagnose: after the private federation, DiagnoseReleaseSubspace's figures in the notes.
  bool dp_subspace_diagnose = false;
  // Line mode with a release (session 21): after the release round the global model carries the pooled noise's
  // expected energy (privacy::kReleaseNoiseName), so every detector shrinks the decoded prototypes by their
  // James-Stein weights (common/privacy/release_shrink.h; --dp-release-shrink). Off: today's prototypes.
  bool dp_release_shrink = false;
  // --dp-shrink-diagnose: after the private federation, DiagnoseReleaseShrink's figures in the notes.
  bool dp_shrink_diagnose = false;
};

// With options.initial_model: OK when its FILE.json (tools/offline/pretrain.h) excludes every system the
// protocol's sites hold (hdfs: HDFS, bgl: BGL; sources: refused, its sites hold every public source), so no
// site's data, test lines included, is in the pre-training; InvalidArgument otherwise.
absl::Status CheckInitialModelData(const FederatedOptions& options);

// A site's own log as its daemon reads it, for the label-free side of the "product choice" rows
// (eval_federated_choice.cc). The loader fills format, session_pattern and lines (row i of RawSite::lines
// is lines[i]); SplitSite the rest. Empty lines: no choice rows for the site.
struct SiteStream {
  std::string format;           // LineParser name ("HDFS", "BGL")
  std::string session_pattern;  // novelty::EventOptions::session_pattern; "" for line sites
  std::vector<std::string> lines;        // raw lines in log order, labels removed
  std::vector<int32_t> line_unit;        // per line, its unit (RawSite::units index; line sites: the line)
  std::vector<int64_t> train_rows;       // per line of FederatedSite::train, its row in `lines`
  std::vector<size_t> test_units;        // per test unit, in SitePart order, its unit
};

// The part of a site's data a model sees at one stage. Units are what is scored: single lines
// (`units` empty) or sessions (HDFS blocks: `units[u]` lists the unit's rows of `lines`).
struct SitePart {
  model::LineSet lines;                     // labeled (labels 0 / >= 1)
  std::vector<std::vector<int64_t>> units;  // empty: every line is a unit
  std::vector<int> unit_labels;             // 0/1 per unit (sessions only)
};

// One simulated site. Every LineSet is built by line_input from the site's own FeaturizeLog output.
struct FederatedSite {
  std::string name;
  std::vector<std::string> sources;  // adapters it trains and downloads
  model::LineSet train;              // training lines, one label each (-1: unlabeled)
  bool labeled = true;               // false: the held-out site, labeled on its support lines only
  int join_round = 0;                // first round it takes part in
  model::LineSet support;            // k labeled lines per class and source for its detector
  SitePart validation;               // calibration and threshold (may be empty)
  SitePart test;
  std::vector<std::string> notes;  // what the loader did, for the report
  SiteStream stream;               // empty for sites built without their raw log
};

// A site's labeled log lines before the split (ordered as in its log).
struct RawSite {
  std::string name;
  std::vector<std::string> sources;
  model::LineSet lines;                     // labeled
  std::vector<std::vector<int64_t>> units;  // sessions; empty: line units
  std::vector<int> unit_labels;
  std::vector<int32_t> templates;  // sessions: Drain template (resolved) per line
  SiteStream stream;               // optional: format, session_pattern and lines (SiteStream)
};

// Splits `raw` by unit into train 50% / validation 20% / test 30% (seeded, stratified by class)
// and draws options.shots support lines per class and source from the train part (with
// options.max_anomalous_labels > 0, after keeping that many anomalous training labels; the others
// are -1, unlabelled, and never support lines). A `held_out` site
// keeps labels on its support lines only (-1 elsewhere), joins at `join_round` and uses its support
// set as validation. Session sites get line labels from their blocks: a line is anomalous when its
// block is and its template never occurs in a normal training block.
absl::StatusOr<FederatedSite> SplitSite(const RawSite& raw, const FederatedOptions& options,
                                        bool held_out, int join_round, uint64_t seed);

// Site `index` of `sites` keeps none of its anomalous labels: its anomalous training lines become unlabelled
// (-1) and its anomalous support lines are dropped (validation and test keep theirs, for the threshold and
// the metrics). InvalidArgument for an index out of range.
absl::Status WithholdAnomalousLabels(int index, std::vector<FederatedSite>* sites);

// Protocol loaders (eval_federated_data.cc). NotFound when the data is absent.
absl::StatusOr<std::vector<FederatedSite>> LoadSourcesSites(const FederatedOptions& options);
absl::StatusOr<std::vector<FederatedSite>> LoadHdfsSites(const FederatedOptions& options);
absl::StatusOr<std::vector<FederatedSite>> LoadBglSites(const FederatedOptions& options);

// Parses, templates and featurizes `lines` of log format `format` as one site's stream would and
// returns them under adapter `source` with `labels` (one per line).
absl::StatusOr<model::LineSet> FeaturizeSiteLines(
    std::string_view format, const std::string& source, const std::vector<std::string_view>& lines,
    const std::vector<int>& labels, std::vector<int32_t>* resolved_templates = nullptr);

// One model evaluated on one site's test part.
struct SiteEvaluation {
  std::string model;  // "federated", "tuned", "personalised", "centralized",
                       // "local", "label_free", "choice", ... (kModels, eval_federated_report.cc)
  std::string site;
  bool held_out = false;
  int64_t units = 0;
  int64_t anomalous_units = 0;
  double threshold = 0;  // the detector's (sessions: picked on validation block maxima)
  eval::BinaryMetrics metrics;
};

struct RoundLog {
  int round = 0;
  int participants = 0;
  double contrastive_loss = 0;  // mean over participants
  double meta_loss = 0;         // mean over participants that meta-trained
  double update_norm = 0;       // L2 norm of the aggregated delta of the shared tensors
  // Adaptive clipping's figures (fl::ClipDecision): each update's norm / reference, the reference, and how
  // many updates were scaled down. The ratios are computed with clipping off too.
  std::vector<double> clip_ratios;
  double clip_reference = 0;
  int clipped = 0;
  double seconds = 0;           // wall time of the round (sites run one after another)
};

struct FederatedResult {
  std::vector<SiteEvaluation> evaluations;
  double dp_epsilon = 0;  // the private federation's epsilon at dp_delta (line: the worst site's)
  double dp_sigma = 0;    // the noise multiplier it ran with
  std::vector<RoundLog> rounds;
  fl::TensorBundle federated_model;  // the final global model
  fl::TensorBundle federated_dp_model;  // the private federation's final model (with --dp-mode)
  std::vector<std::string> notes;
  double seconds = 0;
};

// One round's aggregation (eval_federated_aggregate.cc), as the aggregator does it: each update's
// delta against `global` (a tensor `global` lacks contributes its full value), fl::AggregateDeltas
// with `strategy` (shared tensors over every update, each adapter.* / prototypes.* tensor over the
// updates carrying it), added to `global`. `shared_norm` receives the L2 norm of the shared
// tensors' aggregated delta. `clip_multiple` is adaptive clipping's M (0 = off); `clip` (not null) carries
// the previous round's reference in (its `reference`, 0 = none) and receives this round's decision.
struct SiteUpdate {
  const fl::TensorBundle* weights = nullptr;  // full weights after the round; not owned
  int64_t samples = 0;
  int64_t distinct_templates = 0;
  double imbalance_ratio = 1;
  std::vector<std::string> sources;
  std::string site;  // its name, for the log
};
// What one update contributed, part by part (fl::PartNorms; L2 norms, not squared), and the factor adaptive
// clipping scaled it by: `norm` is the whole contribution's, `known_adapters` the adapters the round's input
// model has, `new_adapters` one entry per source whose adapter the input model lacks (its full value).
struct UpdatePartNorms {
  std::string site;
  double norm = 0;
  double shared = 0;
  double known_adapters = 0;
  std::map<std::string, double> new_adapters;
  double scale = 1;
};
// `parts` (optional) receives one entry per update, in order.
absl::StatusOr<fl::TensorBundle> AggregateRound(const fl::TensorBundle& global,
                                                const std::vector<SiteUpdate>& updates,
                                                const std::string& strategy, double* shared_norm,
                                                double clip_multiple, fl::ClipDecision* clip,
                                                std::vector<UpdatePartNorms>* parts = nullptr);

// Differential privacy of the simulation (eval_federated_dp.cc).
// Checks the dp_* options; in line mode with target_epsilon > 0 sets dp_noise_multiplier to the
// smallest sigma that keeps every site's run within the target (each site's phases as
// model::PlanLineDpRound plans them, its steps from rounds x local work).
absl::Status ResolveDpOptions(const std::vector<FederatedSite>& sites, FederatedOptions* options);
// The line-level DP options the dp_* fields of `options` describe.
model::LineDpOptions LineDpOf(const FederatedOptions& options);
// The private federation's per-round hook and ledger: the line-DP work of a site round, its
// mechanism recorded per site; in site mode the clip-and-noise of each update and the unweighted
// mean of the noisy deltas.
class DpFederation {
 public:
  DpFederation(const FederatedOptions& options, size_t sites);
  // Line-level DP options for a site's LocalWork (disabled in site mode).
  model::LineDpOptions LineDp() const;
  // Records a site round's line-DP mechanism.
  void RecordLineRound(size_t site, const std::vector<model::LineDpPhase>& phases);
  // Line mode: the weight of `site`'s update this round, its line count `count` released with
  // noise (privacy::NoisedLineCount at dp_count_noise); the release is recorded as a phase of the
  // site's composition (q = 1, one step).
  absl::StatusOr<int64_t> NoisedCount(size_t site, int64_t count);
  // Line mode: whether round `round` (0-based) releases class sums (the final round, with a noise).
  bool ReleasesPrototypes(int round) const;
  // The noise shares of a release round with `participants` sites: 1 without secure aggregation, else the
  // round's threshold t (FederatedOptions::secagg_threshold, or a majority of `participants`, at least 2).
  int ReleaseShares(int participants) const;
  // Site mode: the next global model from `global` and the participants' full weights: each delta
  // clipped to C plus N(0, (sigma*C)^2 / n) per coordinate, then averaged over the n updates. The
  // round is charged at q = 1 (the simulation does not sample sites); `total_sites` is unused.
  absl::StatusOr<fl::TensorBundle> AggregateSiteDp(const fl::TensorBundle& global,
                                                   const std::vector<SiteUpdate>& updates,
                                                   int total_sites);
  // The epsilon reached so far at dp_delta (line: the worst site's composition of its rounds).
  absl::StatusOr<double> Epsilon() const;

 private:
  FederatedOptions options_;
  std::vector<std::vector<model::LineDpPhase>> site_phases_;
  std::vector<model::LineDpPhase> site_rounds_;  // site mode: one step per round
  std::unique_ptr<privacy::GaussianSampler> sampler_;  // line mode: the counts' noise, made on first use
};

// The public subspace of the class-sum release (eval_federated_dp_subspace.cc).
// `lines` embedded under `weights` through the adapters of `sources` (none: the shared encoder only), with
// options' threads and seed (model::Embed; prototypes and other adapters left out of the weights).
absl::StatusOr<DenseMatrix> EmbedUnder(const model::EncoderSpec& base, const std::vector<std::string>& sources,
                                       const fl::TensorBundle& weights, const model::LineSet& lines,
                                       const FederatedOptions& options);
// The loghub system LoadPublicLines leaves out for options.protocol (hdfs: HDFS, bgl: BGL); InvalidArgument for
// another protocol, whose sites hold public sources.
absl::StatusOr<std::string> PublicExclusion(const FederatedOptions& options);
// The release basis (privacy::kReleaseBasisName, rank x out_dim) of options.dp_release_subspace for a round whose
// global model is `global`: the public lines (LoadPublicLines without the protocol's system) embedded under it as
// options.dp_release_basis says, their top principal directions (privacy::PrincipalBasis). The public lines are
// loaded once into `cache`.
absl::StatusOr<fl::NamedTensor> ReleaseBasis(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                             const fl::TensorBundle& global, const FederatedOptions& options,
                                             model::LineSet* cache);
// --dp-subspace-diagnose (eval_federated_dp_diagnose.cc): under the private federation's final model `global`,
// the share of the labelled sites' pooled class means in the top-r public principal directions, per public source
// held out the share of its own class-mean difference in the others', and for each site without anomalous labels
// its detector's AUROC with the release noised in all coordinates or in r (mean over noise draws of the pooled
// noise: `participants` sites each adding s^2 / `shares`). Appended to `notes` and stderr.
absl::Status DiagnoseReleaseSubspace(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                     const fl::TensorBundle& global, const FederatedOptions& options,
                                     int participants, int shares, std::vector<std::string>* notes);

// --dp-shrink-diagnose (eval_federated_dp_shrink.cc): under the private federation's final model `global`, for
// each site without anomalous training labels, the mean over noise draws of the pooled release (`participants`
// sites each adding s^2 / `shares`) of its shrink weight and of its test AUROC / F1 (threshold at max F1 on its
// validation units) with the release's unit direction, the shrunk one and none (normal-only), and the noiseless
// direction's. Appended to `notes` and stderr.
absl::Status DiagnoseReleaseShrink(const std::vector<FederatedSite>& sites, const model::EncoderSpec& base,
                                   const fl::TensorBundle& global, const FederatedOptions& options,
                                   int participants, int shares, std::vector<std::string>* notes);

// How far `model` moved from `start` (same names; tensors missing from either are skipped), per
// group: embed (embed.weight), encoder (mlp.*, norm.*, out.*), adapters (adapter.*, prototypes
// excluded) and head (head.*): "label: embed |dw| X of |w0| Y, ..." for results.md's notes.
std::string ParameterMovement(const std::string& label, const fl::TensorBundle& start,
                              const fl::TensorBundle& model);

// The "product choice" rows (eval_federated_choice.cc; docs/EVALUATION.md "Session 15: the detector each
// site runs"). Since session 14 live detection chooses per source (common/fewshot/detector_choice.h,
// detect.detector_choice auto): a source stays on the label-free detector until its labels hold 3 distinct
// units per class and, leave-one-out, the model beats it by the margin. For a site with a stream the
// simulation adds "label_free" (that detector alone), "choice" (the choice against the `federated` model)
// and "choice_dp" (against `personalised_dp`, or `federated_dp` without personalisation): the two models
// issue 13's gap compares. The model-only rows are unchanged.
// The label-free side of a site: the product's k = 0 detector over the site's own stream (eval newsite's
// ScoreNewsiteStream with NewsiteOptions' defaults and ProductK0Detector: the session detector for HDFS
// blocks, the label-free line detector for BGL lines) at its own alerts on the test units; the site's
// labels are its labelled training lines as few-shot line units (live detection compares on line labels),
// with the stream's last 4,096 label-free line scores as the reference (LiveFewShot's window). A line site's
// label-free detector takes those labels as live detection does (fewshot::FewShotDetector fitted on them,
// the same reference); a session site's keeps its k = 0 form (its session verdicts would need session
// labels, which the simulation does not give).
struct SiteLabelFree {
  SiteEvaluation evaluation;            // model "label_free" on the site's test units
  std::vector<fewshot::Unit> labelled;  // per labelled training line: tokens, label-free score and alert
  std::vector<int> labels;              // their classes (0 / 1)
  std::vector<int64_t> train_lines;     // their rows of FederatedSite::train
  std::vector<double> reference;        // the reference's label-free scores, sorted
  double operating_point = 1;           // its score at its own label-free alert rate
  bool with_labels = false;             // the evaluation used the labels (line sites), else k = 0
};
// FailedPrecondition when the site has no stream; InvalidArgument when SplitSite did not index it.
absl::StatusOr<SiteLabelFree> LabelFreeSide(const FederatedSite& site);
// The choice for one model: `embeddings` [labelled lines][dim] of lf.labelled under the model (row-major);
// `model_row` the model's evaluation (null: the model has no detector for the site). The result is
// `model_row` when fewshot::ChooseDetector picks the model, else lf.evaluation, renamed `name`; `reason`
// (optional) receives the choice's reason.
absl::StatusOr<SiteEvaluation> ChooseSiteDetector(const SiteLabelFree& lf, const std::vector<float>& embeddings,
                                                  size_t dim, const SiteEvaluation* model_row,
                                                  const std::string& name, const fewshot::ChoiceOptions& options,
                                                  std::string* reason);
// ChooseSiteDetector with the labelled lines embedded under `weights` as live detection embeds them
// (model::LineScorer::Embed with the site's adapters) and `options` (eval federated: the product's
// defaults with --choice-compare).
absl::StatusOr<SiteEvaluation> ChoiceRow(const model::EncoderSpec& base, const fl::TensorBundle& weights,
                                         const FederatedSite& site, const SiteLabelFree& lf,
                                         const SiteEvaluation* model_row, const std::string& name,
                                         const fewshot::ChoiceOptions& options, std::string* reason);

// Runs the federated rounds, then the centralized and local-only baselines, and evaluates every
// model on every site (eval_federated_sim.cc). InvalidArgument for bad options or sites.
absl::StatusOr<FederatedResult> RunFederatedSimulation(const std::vector<FederatedSite>& sites,
                                                       const FederatedOptions& options);

// results.json and results.md under options.out_dir (eval_federated_report.cc); returns the
// markdown.
absl::StatusOr<std::string> WriteFederatedResults(const FederatedOptions& options,
                                                  const std::vector<FederatedSite>& sites,
                                                  const FederatedResult& result);

// The verb (eval_federated_verb.cc).
absl::Status RunFederatedEvaluation(const FederatedOptions& options);
int RunEvalFederated(const std::vector<std::string>& args);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_FEDERATED_H_
