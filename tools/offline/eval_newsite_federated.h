// `fedlog eval newsite --federated`: what the federation adds for a new site (issue 14 item 4).
// For a real-labelled system (bgl, hdfs, hadoop) a federation is trained with the daemons' code as
// `eval federated` runs it (RunFederatedSimulation: model::RunSiteRound per site, common/fl
// aggregation) on sites that hold none of the system's source type: the seed-labelled loghub-2k
// sources but that one (seed-labeled-2k has a BGL, an HDFS and a Hadoop source; the target's is left
// out) dealt into a few sites, plus the other real-labelled systems (BGL-20k lines, HDFS_2pct
// blocks) as one site each; with --fed-sibling also one site that runs the system's own source type
// on data disjoint from the new site's stream (eval_newsite_sibling.cc, LoadNewsiteSibling). The
// system then joins as a new site with three encoders:
//   federated  the global model as downloaded (shared encoder, prototypes.global, an identity
//              adapter for its source type)
//   tuned      the global model after the site's own local rounds (contrastive on its own lines)
//   alone      the initial (untrained) weights after the same local rounds: the site by itself
// Every encoder gets the same procedure on the units of eval newsite's k > 0 split (MakeNewsiteSplit)
// with the same label draws (RandomLabelOrder, ActiveLabelOrder):
//   k = 0  embedding novelty (distance to the nearest of a sample of the site's own earlier lines,
//          in the encoder's space), alone and fused with the label-free score; the federated model
//          also scores with its global prototypes. Threshold: the site's alert budget as a quantile
//          of the earlier units' scores; the fused scores also at the label-free detector's alert
//          count among the earlier units (", label-free count").
//   k > 0  model::BuildSiteDetector on the k labelled units per class (nearest support for lines,
//          class means for sessions, as eval federated's detectors), threshold from the support set;
//          the fused support detector (model::FusedFewShotDetector): the nearest labelled unit
//          decides where it is near in the encoder's space, the label-free score elsewhere (also
//          "capped": no more alerts among the earlier units than the label-free count; "capped
//          undecided": the same count among the earlier units no label matches); and the
//          hybrid support detector (model::HybridSupportDetector, cosine + token Jaccard), cut at the
//          Jaccard 1-NN's alert count among the earlier unlabelled units.
//   both   the "prototype prior" rows (eval_newsite_federated_prior.cc): what the federation
//          learned from other sites' labels (prototypes.global) joined with the product's own
//          detectors: the product's k = 0 detector fused by rank with the prototypes' score, cut at
//          the k = 0 detector's alert rate; at k > 0 common/fewshot on that fused score, the global
//          prototypes shrunk by the k labels (model::PrototypePrior). The site alone gets the same
//          rule with what it has: no prototype at k = 0, its own labels' class means after.
//   k > 0  the product's own rule with the encoder ("fewshot + encoder",
//          eval_newsite_federated_encoder.cc): common/fewshot with FewShotOptions::encoder_weight,
//          each arm's own labels' class means in its own encoder space, no global prototype.
//   both   the "choice" rows (eval_newsite_federated_choice.cc): what live detection does with the
//          arm's model under detect.detector_choice = auto (common/fewshot/detector_choice.h): the
//          label-free product row until the draw's labels, leave-one-out, favour the model, then the
//          support detector row; "label-free (product)" is the label-free side alone.
//   k = 0  with --fed-sibling, the federation's operating point rows (eval_newsite_federated_point.cc):
//          the sibling's F1-best cut of the label-free score for the source (its labels, its own
//          stream), applied by the new site as a score cut, an alert rate or a prevalence.
//   both   with --fed-sibling, the federation's kind verdicts rows (eval_newsite_federated_kinds.cc,
//          common/kinds): the sibling's labelled units summed per message kind into a count sketch,
//          each new-site unit's verdict from its lines' kinds on top of the label-free product rows.
// Internal to tools/offline (fedlog_tools_offline, which links torch through common/model).
// Thread-compatible: one call runs on the calling thread.
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_FEDERATED_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_FEDERATED_H_

#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/kinds/alarm_budget.h"
#include "common/kinds/kind_sketch.h"
#include "common/kinds/kind_tally.h"
#include "common/model/encoder_types.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {

// The source type a system's lines are parsed as, which the federation leaves out ("BGL", "HDFS",
// "Hadoop"); InvalidArgument for another system.
absl::StatusOr<std::string> NewsiteSourceType(const std::string& system);

// The simulation settings of the arm (rounds, work, line cap, threads, seed) as FederatedOptions.
FederatedOptions NewsiteFederationOptions(const NewsiteOptions& options);

// The federation's sites for a new site of `system` (eval_newsite_federation.cc), read from
// options.data_dir, with LoadNewsiteSibling's site last when options.federated.sibling; what was
// left out goes to `notes`. NotFound when data is absent.
absl::StatusOr<std::vector<FederatedSite>> LoadNewsiteFederation(const std::string& system,
                                                                 const NewsiteOptions& options,
                                                                 std::vector<std::string>* notes);

// --fed-sibling (eval_newsite_sibling.cc): one federation site running `system`'s own source type,
// labelled, on data disjoint from the new site's stream (NewsiteFederatedOptions::sibling), split by
// SplitSite with `split_seed`; what it holds and left out goes to `notes`. NotFound when data is
// absent, InvalidArgument for a system without sibling data (hadoop).
absl::StatusOr<FederatedSite> LoadNewsiteSibling(const std::string& system, const FederatedOptions& fo,
                                                 uint64_t split_seed, std::vector<std::string>* notes);
// The same sibling's data as a stream (eval_newsite_sibling.cc), for scoring it with the label-free
// detector as the sibling site does live: for bgl loghub-2k BGL, for bgl2k BGL-20k, each less the
// lines that occur verbatim in the other; for hdfs the sibling's half. Errors as LoadNewsiteSibling.
absl::StatusOr<NewsiteStream> LoadSiblingStream(const std::string& system, const std::string& data_dir);

// The three encoders of the new site (eval_newsite_federation.cc): the federation trained on
// `sites`, then the site's local rounds on `own` (unlabelled lines of its source type `source`) from
// the global model and from the initial weights. `spec` receives the site's encoder spec.
struct NewsiteEncoders {
  model::EncoderSpec spec;
  fl::TensorBundle federated, tuned, alone;
  std::vector<std::string> notes;
};
absl::StatusOr<NewsiteEncoders> TrainNewsiteEncoders(const std::vector<FederatedSite>& sites,
                                                     const std::string& source,
                                                     const model::LineSet& own,
                                                     const NewsiteOptions& options);

// The arm on one system given its federation's sites (the test passes small synthetic ones);
// `notes` open its section of the report.
absl::StatusOr<NewsiteArmResult> RunNewsiteFederatedArm(const std::vector<FederatedSite>& sites,
                                                        const NewsiteStream& stream,
                                                        const ScoredStream& scored,
                                                        const NewsiteOptions& options,
                                                        const std::vector<std::string>& notes = {});

// The pieces of the arm (eval_newsite_federated.cc, _rows.cc, _fused.cc).
// The new site's stream through its own parser, Drain and featurizer.
struct NewsiteLines {
  model::LineSet lines;                          // every line in stream order, unlabelled
  std::vector<int32_t> templates;                // Drain template of each line (resolved)
  std::vector<std::vector<int64_t>> unit_lines;  // per unit, its lines
  std::vector<int64_t> memory;  // the earlier lines embedding novelty compares with (seeded sample)
  model::LineSet own;           // the site's training lines: before the split's cut, labels -1
};
// One encoder of the new site: its weights, every line embedded once, and its label-free unit
// scores by name. One at a time: the embeddings of a large stream take a few hundred MB.
struct ArmModel {
  std::string name;                           // "federated", "tuned", "alone"
  const fl::TensorBundle* weights = nullptr;  // not owned
  std::vector<float> embeddings;              // [lines][spec.out_dim]
  std::vector<std::pair<std::string, std::vector<double>>> k0;  // "embedding novelty", ...
  // With prototypes: the threshold of the detector they build with no labels, the one live
  // detection alerts at when the model scores the source (score >= it); NaN without.
  double global_threshold = std::numeric_limits<double>::quiet_NaN();
};
// Embeds the site's lines and scores per unit (max over its lines): the encoder's embedding
// novelty and, when the weights carry prototypes (the source's adapter.<source>.prototypes, else
// prototypes.global), their P(anomalous) ("global prototypes") and detector threshold.
absl::StatusOr<ArmModel> ScoreArmModelAtK0(const std::string& name, const model::EncoderSpec& spec,
                                           const fl::TensorBundle& weights, const NewsiteStream& s,
                                           const NewsiteLines& site, const NewsiteOptions& options);
// Per unit, the score of the detector built from the labelled units (`labelled`, classes `y`) with
// `model`'s weights; `threshold` receives its operating threshold. FailedPrecondition when the
// support lacks a class and the weights carry no prototypes to fill it.
absl::StatusOr<std::vector<double>> SupportDetectorScores(const ArmModel& model,
                                                          const model::EncoderSpec& spec,
                                                          const NewsiteStream& s,
                                                          const NewsiteLines& site,
                                                          const std::vector<size_t>& labelled,
                                                          const std::vector<int>& y,
                                                          const NewsiteOptions& options,
                                                          double* threshold);
// The fused support detector (eval_newsite_federated_fused.cc): every unit's embedding under one
// encoder (a line's own; a session's lines pooled, model::PoolEmbeddings, then centred on the pool
// units' mean, model::CentreEmbeddings) and, per value of
// options.federated.match_quantiles, the cosine match: that quantile of the nearest-neighbour
// similarities among the pool's distinct units (one per token set, fewshot::Unit::tokens; a seeded
// sample of at most 1,500), so each encoder is held to the same relative nearness.
struct FusedUnits {
  size_t dim = 0;
  std::vector<float> z;       // [units][dim]
  std::vector<double> match;  // per match quantile
  std::vector<std::vector<int64_t>> tokens;  // per unit, fewshot's token set sorted as int64
};
absl::StatusOr<FusedUnits> MakeFusedUnits(const ArmModel& model, const model::EncoderSpec& spec,
                                          const ScoredStream& scored, const NewsiteLines& site,
                                          const NewsiteSplit& split,
                                          const NewsiteOptions& options);
// Per unit, the score of model::FusedFewShotDetector fitted on the labelled units (`labelled`,
// classes `y`) with the label-free detector's unit scores (ScoredStream::units' free_score) and its
// pool threshold; `threshold` receives the detector's. A draw with one class is fine; with no label
// the label-free scores and threshold are returned.
absl::StatusOr<std::vector<double>> FusedSupportScores(const FusedUnits& units, const ScoredStream& scored,
                                                       const NewsiteSplit& split,
                                                       const std::vector<size_t>& labelled,
                                                       const std::vector<int>& y, double match,
                                                       double* threshold);
// The cut on `unit_score` that alerts as many pool units as the label-free detector alerted there
// (fewshot::Unit::free_alert; alert at score >= cut; a block of equal scores at the cut goes to the
// side nearer the count, model::CountTies::kNearest: a stream repeats lines): the count from the
// detector whose threshold adapts to the stream, the order from `unit_score`. Used by the k = 0
// ", label-free count" rows and as the cap of the "fused support, capped" rows.
double LabelFreeCountCut(const NewsiteSplit& split, const ScoredStream& scored,
                         const std::vector<double>& unit_score);
// LabelFreeCountCut over the pool units the labels leave undecided only: those whose fused support
// score is the label-free one (model::FusedFewShotDetector: -1 < score < 2; a unit within the match
// of a labelled unit scores >= 2 or <= -1). The cap of the "fused support, capped undecided" rows:
// the labels decide the units they match, and the label-free count limits the rest. (Counting the
// matched units too spent the whole count on the pool's repeats of labelled anomalies on BGL.)
double UndecidedCountCut(const NewsiteSplit& split, const ScoredStream& scored,
                         const std::vector<double>& fused_score);
// Per unit, the hybrid support detector's score (model::HybridSupportDetector on the labelled
// units: w * cosine of `units.z` + (1 - w) * Jaccard of `units.tokens`, w from the support's
// leave-one-out); `threshold` receives the cut that alerts as many of the pool's unlabelled units as
// the Jaccard 1-NN (the same support at w = 0) alerts there (model::CutForAlertCount, ties to the
// nearer count; alert at score >= threshold), `weight` the chosen w. No test unit and no unlabelled unit's label is used.
absl::StatusOr<std::vector<double>> HybridSupportScores(const FusedUnits& units,
                                                        const NewsiteSplit& split,
                                                        const std::vector<size_t>& labelled,
                                                        const std::vector<int>& y,
                                                        double* threshold, double* weight);
// The support lines of a draw: every line of a labelled unit; a session's lines are anomalous when
// the session is and their template occurs in no labelled normal session (eval federated's rule).
void SupportLineRows(const NewsiteLines& site, const std::vector<size_t>& labelled, const std::vector<int>& y,
                     std::vector<int64_t>* rows, std::vector<int>* labels);

// The prototype prior rows (eval_newsite_federated_prior.cc; common/model/prototype_prior.h).
inline constexpr char kPrototypePrior[] = "prototype prior";
// The product's k = 0 detector per unit: the session detector's score and site alert for session
// units (ScoredStream::unit_session_score, unit_session_alert), the label-free line detector's
// (fewshot::Unit::free_score, free_alert) for lines; `order`: the units in stream order (first line).
struct PriorBase {
  std::vector<double> score;
  std::vector<uint8_t> alert;
  std::vector<size_t> order;
};
PriorBase ProductK0Detector(const NewsiteStream& s, const ScoredStream& sc);
// model::RateMatchedAlerts over the units in `base.order` (a window of 4,096 units, LiveFewShot's):
// per unit, whether `fused` alerts at the base detector's alert rate of the units before it.
absl::StatusOr<std::vector<uint8_t>> StreamRateMatchedAlerts(const PriorBase& base,
                                                             const std::vector<double>& fused);
// Per value of options.federated.prior_weights, every unit's fused score (model::RankFuse of the
// base score and the prior's, quantiles among the pool units) and its rate-matched alert. The prior
// is model::PrototypePrior of the arm's prototypes.global (none for the site alone) shrunk by the
// draw's support lines (SupportLineRows; `labelled` empty at k = 0), in the arm's embedding space,
// a unit's score its lines' maximum; without both classes' prototypes the fused score is Q(base).
struct PriorScores {
  bool has_prior = false;
  std::vector<std::vector<double>> fused;    // per prior weight, per unit
  std::vector<std::vector<uint8_t>> alert;   // per prior weight, per unit
};
absl::StatusOr<PriorScores> PriorUnitScores(const ArmModel& model, const model::EncoderSpec& spec,
                                            const NewsiteLines& site, const PriorBase& base,
                                            const NewsiteSplit& split, const std::vector<size_t>& labelled,
                                            const std::vector<int>& y, const NewsiteOptions& options);
// One row per prior weight ("<arm>: prototype prior", then "... w=W"): at k = 0 (`labelled` empty)
// the fused score and its rate-matched alerts on the test units; at k > 0 fewshot::FewShotDetector
// (KShotFewShotOptions) fitted on the labelled units with the fused score as their label-free score,
// the operating point at the pool's fused alert rate, the pool's fused scores as its reference.
absl::Status PriorRows(const NewsiteStream& s, const ScoredStream& sc, const NewsiteSplit& split,
                       const PriorScores& p, const std::vector<size_t>& labelled,
                       const std::vector<int>& y, const std::string& arm, const NewsiteOptions& options,
                       std::vector<KShotRow>* rows);

// The product's k > 0 rule with the encoder (eval_newsite_federated_encoder.cc): common/fewshot's
// detector (KShotFewShotOptions) with FewShotOptions::encoder_weight, each unit carrying its
// embedding under the arm's own encoder and nothing from other sites (no prototypes.global).
inline constexpr char kFewshotEncoder[] = "fewshot + encoder";
// Per unit: the product's k = 0 detector on common/fewshot's scale (lines: the label-free raw fused
// score squashed as live detection does, s / (1 + s), and fewshot::Unit::free_alert; sessions: the
// session detector's score as its quantile among the pool units, and its site alert) and its
// embedding under `model` (a line's own; a session's lines' unit-norm mean).
std::vector<fewshot::Unit> EncoderUnits(const ArmModel& model, size_t dim, const NewsiteStream& s,
                                        const ScoredStream& scored, const NewsiteLines& site,
                                        const NewsiteSplit& split, const PriorBase& base);
// One row per value of options.federated.encoder_weights ("<arm>: fewshot + encoder", then
// "... w=W"): the detector fitted on the labelled units as live detection fits it (LiveFewShot), in
// stream order (`base.order`), every 1,024 units again (64 with the encoder rule) with the 4,096 units
// before as its reference (their label-free scores, alerts and embeddings), measured on the test units.
absl::Status EncoderRows(const NewsiteStream& s, const NewsiteSplit& split,
                         const std::vector<fewshot::Unit>& units, const PriorBase& base,
                         const std::vector<size_t>& labelled, const std::vector<int>& y, const std::string& arm,
                         const NewsiteOptions& options, std::vector<KShotRow>* rows);

// Every unit's score and alert as live detection would give them with the labelled `support`
// (classes `y`): the units in stream order (`order`), the detector refitted as LiveFewShot refits it
// (every 1,024 units, 64 with the encoder rule, on the 4,096 units before), its reference the window's
// units (their label-free scores, alerts and embeddings; no label of theirs is used). `decided`
// (optional, sized like `units`) receives whether a label decided the unit (FewShotDetector::Decide).
absl::Status ReplayLive(const std::vector<fewshot::Unit>& units, const std::vector<size_t>& order,
                        const std::vector<fewshot::Unit>& support, const std::vector<int>& y,
                        const fewshot::FewShotOptions& fo, std::vector<double>* score, std::vector<int>* alert,
                        std::vector<uint8_t>* decided);

// The federation's kind verdicts (eval_newsite_federated_kinds.cc; common/kinds), with --fed-sibling
// only: the sibling's labelled units (LoadSiblingStream; all of them, or a seeded draw of
// options.federated.kind_labels) summed into a kinds::KindSketch
// as a site's daemon would count them, and each unit of the new site given kinds::UnitVerdict on its
// lines' kinds (lines may be silenced, sessions not). Rows "federated: label-free + federation's kind
// verdicts": at k = 0 the product's k = 0 detector (`base`) with anomalous verdicts alerting and
// normal ones silencing; at k > 0 the "label-free (product)" replay (ReplayLive, encoder weight 0)
// where the site's own labels decide a unit, the kind verdict elsewhere when there is one.
inline constexpr char kKindVerdicts[] = "label-free + federation's kind verdicts";
struct FederationKinds {
  std::vector<int8_t> verdict;  // per unit of the new site: kinds::KindVerdict as int
  // With --fed-kind-trust-rows: per KindTrustVariants() entry, its name and the verdicts under it.
  std::vector<std::pair<std::string, std::vector<int8_t>>> variants;
};

// The sites whose labels make the federation's kind sketch (eval_newsite_federated_trust.cc): `honest` the
// sibling's `labelled` units (in stream order) as `siblings` sites (0: none), each a contiguous part; `liar` (unless
// "none") a copy of them with every label inverted ("invert"), normal ("silence") or anomalous ("alarm"),
// each unit counted kLiarRepeat times (a large site; the aggregator bounds a count only by the lines a site
// declares).
inline constexpr int kLiarRepeat = 10;
struct KindSites {
  std::vector<kinds::KindTally> honest;
  std::optional<kinds::KindTally> liar;
};
KindSites TallyKindSites(const std::vector<std::vector<uint64_t>>& unit_kinds, const std::vector<int>& y,
                         std::vector<size_t> labelled, int siblings, const std::string& liar);
// The aggregator's sum of the sites' sketches, each capped at kinds::kSiteBucketCap when `defence` (as the
// daemon sends it), with Suppress(3).
kinds::KindSketch FederationSketch(const KindSites& sites, bool defence);
// The verdict options a KindTrust stands for (defence off: one site enough for either verdict).
kinds::KindVerdictOptions TrustVerdictOptions(const NewsiteFederatedOptions::KindTrust& trust);
std::string KindTrustName(const NewsiteFederatedOptions::KindTrust& trust);
// --fed-kind-trust-rows' settings: session 18's, without the alarm budget: for 1 and 2 honest siblings,
// uncapped 1/1 sites, capped 1/1, capped 2/1 (the product's site rule), capped 2/2; then for each liar (invert,
// silence, alarm) beside one sibling, uncapped and capped 2/1; then the silence and alarm liars alone (no honest
// sibling; siblings 0), uncapped and capped 2/1. Then for each share of `budgets` (--fed-kind-alarm-budgets),
// capped 2/1 with that budget: 1 sibling, 2 siblings, 2 siblings with 2+ sites exempt, the alarm liar beside
// one sibling, and the alarm liar alone, capped and uncapped.
std::vector<NewsiteFederatedOptions::KindTrust> KindTrustVariants(const std::vector<double>& budgets = {});
// The new site's alarm budget a KindTrust stands for.
kinds::AlarmBudgetOptions TrustBudgetOptions(const NewsiteFederatedOptions::KindTrust& trust);
// The units of `s` in the order the site judges them: a line when it comes, a session when its last line
// has come (it closes).
std::vector<size_t> ClosingOrder(const NewsiteStream& s);
// kinds::AlarmBudget over the new site's units (`mine`: their kinds) in `order`, as the daemon applies it:
// each unit counted, then an anomalous `verdict` on a unit its own detector did not alert (`own_alert`, per
// unit; null: none alerted) that the budget does not allow set to 0 (the site's own detector decides the
// unit). Returns how many verdicts it withheld.
int64_t ApplyAlarmBudget(const std::vector<std::vector<uint64_t>>& mine, const std::vector<size_t>& order,
                         const std::vector<uint8_t>* own_alert, const kinds::KindSketch& sketch,
                         const kinds::KindVerdictOptions& vo, const kinds::AlarmBudgetOptions& bo,
                         std::vector<int8_t>* verdict);
// `own_alert` (optional, per unit of `s`): the product's k = 0 alerts (PriorBase::alert), which the alarm
// budget leaves alone (ApplyAlarmBudget; the k > 0 rows keep the same budget decisions).
absl::StatusOr<FederationKinds> LoadFederationKinds(const NewsiteStream& s, const NewsiteSplit& sp,
                                                    const NewsiteOptions& options,
                                                    std::vector<std::string>* notes,
                                                    const std::vector<uint8_t>* own_alert = nullptr);
absl::Status KindVerdictK0Row(const NewsiteSplit& sp, const PriorBase& base, const FederationKinds& kinds,
                              std::vector<KShotRow>* rows, std::vector<std::string>* notes);
// One label draw (`units`: the product's few-shot units, EncoderUnits; their embeddings unused).
absl::StatusOr<KShotRow> KindVerdictDrawRow(const NewsiteStream& s, const NewsiteSplit& sp,
                                            const std::vector<fewshot::Unit>& units, const PriorBase& base,
                                            const FederationKinds& kinds, const std::vector<size_t>& labelled,
                                            const std::vector<int>& y, const NewsiteOptions& options);

// The detector choice rows (eval_newsite_federated_choice.cc).
inline constexpr char kChoice[] = "choice";
inline constexpr char kLabelFreeProduct[] = "label-free (product)";
// k = 0: the product's k = 0 detector (`base`) at its own alerts on the test units, as
// "label-free (product)" (when `first_arm`) and as "<arm>: choice" (one row per value of
// options.federated.choice_margins; with no labels auto keeps the label-free detector).
absl::Status ChoiceK0Rows(const NewsiteSplit& sp, const PriorBase& base, const std::string& arm, bool first_arm,
                          const NewsiteOptions& options, std::vector<KShotRow>* rows);
// The product's label-free detector with a draw's labels: the encoder-free few-shot rule replayed as
// live runs it (EncoderRows at encoder weight 0 on `units`), named "label-free (product)".
absl::StatusOr<KShotRow> LabelFreeProductRow(const NewsiteStream& s, const NewsiteSplit& sp,
                                             const std::vector<fewshot::Unit>& units, const PriorBase& base,
                                             const std::vector<size_t>& labelled, const std::vector<int>& y,
                                             const NewsiteOptions& options);
// One draw: per value of options.federated.choice_margins, fewshot::ChooseDetector (auto, that
// margin, options.federated.choice_compare's units) on the leave-one-out verdicts of the labelled
// `units` (EncoderUnits: the arm's embeddings,
// the product's label-free scores; reference: the pool units) picks `model_row` (the draw's support
// detector row; null when the model could not build one) or `label_free_row`, named "<arm>: choice"
// (then "... m=M"). `chose_model[i]` counts the draws that chose the model at margin i. Each choice
// is logged on stderr ("[choice]") with the two candidate rows' test F1.
absl::Status ChoiceRows(const NewsiteStream& s, const NewsiteSplit& sp, const std::vector<fewshot::Unit>& units,
                        const std::vector<size_t>& labelled, const std::vector<int>& y, const KShotRow* model_row,
                        const KShotRow& label_free_row, const std::string& arm, const NewsiteOptions& options,
                        std::vector<KShotRow>* rows, std::vector<int>* chose_model);

// The federation's operating point rows (eval_newsite_federated_point.cc; common/novelty/
// operating_point.h), with --fed-sibling only: the sibling scores its own stream (LoadSiblingStream)
// with the product's k = 0 detector (ScoreNewsiteStream, ProductK0Detector), and
// novelty::OperatingPointFromLabels on its units' scores and labels gives the source's point; the new
// site applies each use of it (novelty::PointUse) to its own k = 0 scores (`base`) in stream order,
// measured on the test units: rows "federated: label-free, federation's operating point (<use>)".
// The alone arm has no such point (its row is "label-free (product)"). `notes` gets the point.
inline constexpr char kFederationPoint[] = "label-free, federation's operating point";
absl::Status OperatingPointRows(const NewsiteStream& s, const NewsiteSplit& sp, const PriorBase& base,
                                const NewsiteOptions& options, std::vector<KShotRow>* rows,
                                std::vector<std::string>* notes);

struct FederatedArmRows {
  std::vector<KShotRow> rows;  // method "<model>: <method>"
  std::vector<std::string> notes;
  double seconds = 0;
};
// Every model's rows at k = 0 and at each k (random draws and active picks of eval newsite).
using NamedEncoder = std::pair<std::string, const fl::TensorBundle*>;
absl::StatusOr<FederatedArmRows> EvaluateArm(const NewsiteStream& s, const ScoredStream& scored,
                                             const NewsiteLines& site, const model::EncoderSpec& spec,
                                             const std::vector<NamedEncoder>& encoders,
                                             const NewsiteOptions& options);
// The section of results.md (table, then federated vs alone per k) and the JSON rows.
NewsiteArmResult ArmReport(const NewsiteStream& s, const FederatedArmRows& rows);

// The NewsiteArmFn `fedlog eval newsite` runs: LoadNewsiteFederation, then RunNewsiteFederatedArm.
absl::StatusOr<NewsiteArmResult> FederatedNewsiteArm(const NewsiteStream& stream,
                                                     const ScoredStream& scored,
                                                     const NewsiteOptions& options);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_FEDERATED_H_
