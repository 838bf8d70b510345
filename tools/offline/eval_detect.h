// `fedlog eval detect`: the detection evaluation harness with the classical baselines (XGBoost and
// logistic regression, common/classic) and the learned encoder (common/model: contrastive
// pre-training, meta-training, few-shot adaptation; the session model for block/application
// protocols). It builds a labelled feature matrix for one protocol from
// the shared data, trains on the protocol's training part (feature selection, scaling and
// oversampling fitted there only), tunes the decision threshold on validation data, scores the test
// part and writes results.json, results.md and SVG plots (PR curves, score histograms).
//   loso    16 seed-labelled loghub-2k sources, leave one source out, k in {0,5,10,30} labelled
//   target lines hdfs    HDFS_v1 2% block sessions, stratified 70/30 by block bgl     BGL 20k
//   lines, stratified 70/30 by line hadoop  55 Hadoop applications, stratified 70/30 by application
// Internal to tools/offline: the pieces live in
// eval_detect_{data,train,encoder,fused,fewshot,report,verb}.cc.
// Thread-compatible: one evaluation runs on the calling thread (XGBoost uses its own threads).
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_DETECT_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_DETECT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/eval/aggregate.h"
#include "common/labels/seed_labeled.h"
#include "common/fewshot/fewshot.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/few_shot.h"
#include "common/model/hybrid_cut.h"

namespace fedlog::offline {

// A labelled sample matrix of one protocol.
struct DetectDataset {
  std::string unit;                        // "line", "block", "application"
  DenseMatrix x;                           // unscaled features
  std::vector<int> y;                      // 1 = anomalous
  std::vector<std::string> group;          // source of each row (loso); empty otherwise
  std::vector<std::string> feature_names;  // x.cols names
  std::vector<std::string> notes;          // what was read, skipped or subsampled, for the report
  // The learned encoder's input (common/model/line_input.h): every featurized log line with its
  // source (adapter), source-unique resolved Drain template id and, for line protocols, its label.
  // Line protocols: line i is row i. Session protocols: sessions[row] lists the row's lines in log
  // order.
  model::LineSet lines;
  std::vector<std::vector<size_t>> sessions;
};

// Settings of the learned encoder in `fedlog eval detect` (eval_detect_encoder.cc). Defaults were
// chosen on training data only (docs/EVALUATION.md, "Learned encoder").
struct EncoderEvalOptions {
  int contrastive_steps = 150;  // InfoNCE steps on the training lines (labels unused)
  int contrastive_batch = 256;
  float encoder_lr = 1e-3f;   // contrastive encoder learning rate
  int meta_iterations = 300;  // outer steps of ProtoNet + first-order MAML, curriculum on
  int meta_batch = 4;         // episodes per outer step
  int inner_steps = 1;        // MAML inner steps during meta-training
  float meta_lr = 1e-3f;
  int adapt_steps = 5;          // inner steps on the target's labelled lines (k > 0 / in-domain)
  // How labelled target lines become prototypes: one per support line, nearest wins (kNearest),
  // or one mean per class. k = 0 always uses the two global prototypes.
  model::PrototypeMode prototypes = model::PrototypeMode::kNearestSupport;
  int in_domain_support = 200;  // bgl: labelled training lines per class used as support set
  int session_epochs = 5;       // hdfs/hadoop: epochs of the session classifier
  int threads = 1;  // torch intra-op threads: on busy cores 2 spinning OpenMP threads are slower
  // encoder-fused (eval_detect_fused.cc): the quantile of the nearest-neighbour cosine similarities
  // among the target's templates (one line each) that makes a support line "near"
  // (model::MatchFromReference); the value chosen for `eval newsite --federated` on bgl2k.
  double fused_match_quantile = 0.5;
  // Token-overlap alignment in both training phases (ContrastiveOptions / MetaOptions
  // ::jaccard_weight): the weight of regressing the encoder's pair cosines onto the pairs' token
  // Jaccard similarity. 0: off. With more than one entry, FitLineEncoderChoosingWeight trains one
  // encoder per weight and keeps the one the training sources' held-out lines prefer.
  std::vector<float> jaccard_weights = {0};
};

struct DetectOptions {
  std::string protocol;  // loso | hdfs | bgl | hadoop
  std::string data_dir;
  std::string out_dir;
  uint64_t seed = 7;
  int select_k = 200;  // features kept by MI + tree-importance selection
  int token_bag =
      512;  // hashed semantic tokens folded into this many presence columns (line protocols)
  std::vector<int> shots = {0, 5, 10,
                            30};  // loso: labelled target lines per class used for adaptation
  double support_weight = 20;     // loso: training weight of each labelled target line
  int repeats =
      3;  // hdfs/bgl/hadoop: stratified splits with seeds seed, seed+1, ... (CLI: 5 for hadoop)
  int xgb_rounds = 100;
  int threads = 2;
  // What to train and report; also "encoder-fused", "encoder-jaccard", "encoder-jaccard-dev",
  // "encoder-jaccard-rate", "encoder-jaccard-devcut", "jaccard-1nn" and "fewshot" (loso only,
  // k > 0).
  std::vector<std::string> models = {"xgboost", "logreg", "encoder"};
  EncoderEvalOptions encoder;
};

// True when `model` is one of options.models.
bool WantsModel(const DetectOptions& options, const std::string& model);

// NotFound naming `path` (and --data) when the data file is absent.
absl::Status RequireDataFile(const std::string& path);

// Reads one seed-labelled loghub-2k source under `data_dir`: its log into `raw` (which `lines` views,
// one per log line) and its label rows into `rows`. NotFound when a file is absent,
// FailedPrecondition when the two disagree in length. Shared by `eval detect` and `eval federated`.
absl::Status ReadSeedLabeledSource(const std::string& data_dir, const std::string& source,
                                   std::string* raw, std::vector<std::string_view>* lines,
                                   std::vector<labels::SeedLabeledLine>* rows);

// Dataset builders (eval_detect_data.cc). NotFound when the data is absent.
absl::StatusOr<DetectDataset> LoadLosoDataset(const DetectOptions& options);
absl::StatusOr<DetectDataset> LoadHdfsDataset(const DetectOptions& options);
absl::StatusOr<DetectDataset> LoadBglDataset(const DetectOptions& options);
absl::StatusOr<DetectDataset> LoadHadoopDataset(const DetectOptions& options);

// What one trained model produced on one test set (eval_detect_train.cc).
struct ModelRun {
  std::string model;           // "xgboost", "logreg"
  std::vector<double> scores;  // test scores, in test-index order
  double threshold = 0.5;      // tuned on validation data
  double validation_f1 = 0;
};

struct TrainSetup {
  std::vector<size_t> train;        // rows used for training (and validation)
  std::vector<float> train_weight;  // per train row multiplier (empty: 1)
  std::vector<size_t> test;
  uint64_t seed = 0;
};

// Feature selection + scaling + oversampling on the training rows, both classifiers (only those in
// options.models are returned; none trained when neither is wanted), threshold on
// validation rows (20% stratified hold-out of the training rows, or 5-fold out-of-fold scores below
// 1000 rows).
absl::StatusOr<std::vector<ModelRun>> TrainAndScore(const DetectDataset& data,
                                                    const TrainSetup& setup,
                                                    const DetectOptions& options, std::string* log);

// The learned encoder (eval_detect_encoder.cc). FitLineEncoder pre-trains (contrastive) and
// meta-trains on the labelled training lines `train` (a stratified 20% of them is held out for the
// k = 0 calibration and threshold); ScoreLineEncoder adapts to `support` (labelled lines; empty:
// global prototypes) and scores `test`.
struct LineEncoderFit {
  model::EncoderSpec spec;
  fl::TensorBundle weights;
  DenseMatrix global_prototypes;
  std::vector<size_t> validation;  // held-out training lines (rows of the dataset)
  float jaccard_weight = 0;        // the token-overlap alignment weight it was trained with
  std::string log;
};
// Trains with options.encoder.jaccard_weights' first entry.
absl::StatusOr<LineEncoderFit> FitLineEncoder(const DetectDataset& data,
                                              const std::vector<size_t>& train,
                                              const DetectOptions& options, uint64_t seed);
// One encoder per entry of options.encoder.jaccard_weights (FitLineEncoder with that weight first);
// keeps the one with the best DevFewShotF1Macro averaged over options.shots' k > 0 (k = 0 when there
// is none). No target line is used. Ties go to the earlier entry. One entry: FitLineEncoder.
absl::StatusOr<LineEncoderFit> FitLineEncoderChoosingWeight(const DetectDataset& data,
                                                            const std::vector<size_t>& train,
                                                            const DetectOptions& options,
                                                            uint64_t seed);
// `calibrate_on_support`: Platt scaling and threshold on the support lines themselves (LOSO, where
// no other target labels exist); otherwise on fit.validation.
absl::StatusOr<ModelRun> ScoreLineEncoder(const DetectDataset& data, const LineEncoderFit& fit,
                                          const std::vector<size_t>& support,
                                          const std::vector<size_t>& test,
                                          bool calibrate_on_support, const DetectOptions& options);
// Training-data-only check of the few-shot step, for choosing encoder settings without the target:
// each training source's held-out lines (fit.validation) act as a pseudo-target (k labelled lines
// per class as support and calibration, the rest scored). Mean F1-macro over sources with both
// classes; the encoder has seen other lines of these sources, so it is optimistic.
absl::StatusOr<double> DevFewShotF1Macro(const DetectDataset& data, const LineEncoderFit& fit,
                                         int k, const DetectOptions& options);
// loso, k > 0 (eval_detect_fused.cc). `encoder-fused`: model::FusedFewShotDetector in the adapted
// encoder's space, a support line deciding the test lines within the match of it (the
// fused_match_quantile of the nearest-neighbour similarities among the target's templates, one
// line each, labels unused), the
// encoder's k = 0 P(anomalous) (global prototypes, threshold from the training sources' held-out
// lines) elsewhere. `jaccard-1nn`: the label of the nearest support line by Jaccard similarity of
// the lines' hashed token sets (alert when the nearest anomalous line is strictly nearer), no
// training.
absl::StatusOr<ModelRun> ScoreLineEncoderFused(const DetectDataset& data, const LineEncoderFit& fit,
                                               const std::vector<size_t>& support,
                                               const std::vector<size_t>& test,
                                               const DetectOptions& options);
// loso, k > 0 (eval_detect_fused.cc). The hybrids: model::HybridSupportDetector on the support
// lines, similarity w * cosine in the adapted encoder's space + (1 - w) * Jaccard of the token sets.
// The rows differ in how w and the cut are chosen; none uses a target label beyond the support:
//  - `encoder-jaccard`: w from the support's own leave-one-out F1-macro, alert when the nearest
//    anomalous line is strictly more similar (score > 0);
//  - `encoder-jaccard-dev`: w fixed per fold and k by DevHybridWeight, the same cut;
//  - `encoder-jaccard-rate`: `encoder-jaccard`'s scores, alerting as many test lines as
//    `jaccard-1nn` alerts on the same lines (model::CutForAlertCount);
//  - `encoder-jaccard-devcut`: `encoder-jaccard`'s scores, the cut moved by the offset the training
//    sources' held-out lines prefer for the chosen w (model::OffsetTally, DevHybridTally).
struct HybridRows {
  bool loo = false;                            // `encoder-jaccard`
  double dev_weight = -1;                      // `encoder-jaccard-dev` when >= 0
  bool rate = false;                           // `encoder-jaccard-rate`
  const model::OffsetTally* tally = nullptr;   // `encoder-jaccard-devcut` when set
};
// One adaptation and embedding of support and test lines, the rows `rows` asks for.
absl::StatusOr<std::vector<ModelRun>> ScoreLineEncoderJaccard(const DetectDataset& data,
                                                              const LineEncoderFit& fit,
                                                              const std::vector<size_t>& support,
                                                              const std::vector<size_t>& test,
                                                              const DetectOptions& options,
                                                              const HybridRows& rows);
// Training-data-only tally for the hybrid (as DevFewShotF1Macro): each training source's held-out
// lines (fit.validation) as a pseudo-target with k support lines per class, scored at every weight
// of model::HybridSupportOptions' grid; mean F1-macro per weight and cut offset
// (model::DefaultCutOffsets). FailedPrecondition when no training source has both classes. No
// target line is used.
absl::StatusOr<model::OffsetTally> DevHybridTally(const DetectDataset& data,
                                                  const LineEncoderFit& fit, int k,
                                                  const DetectOptions& options);
// The weight with the best mean F1-macro at offset 0 (the plain 1-NN cut; ties: nearest the tie
// weight): `encoder-jaccard-dev`'s w.
double DevHybridWeight(const model::OffsetTally& tally);
ModelRun ScoreJaccard1nn(const DetectDataset& data, const std::vector<size_t>& support,
                         const std::vector<size_t>& test);
// loso, k > 0 (eval_detect_fewshot.cc): `fewshot`, the new site's few-shot line detector
// (common/fewshot). First the held-out source's label-free scores, once per fold: its log read
// again and scored in order by the label-free detector a new site runs (eval newsite's
// ScoreNewsiteStream, default budget), no label used.
struct LosoLabelFree {
  std::string source;
  size_t first_row = 0;               // the dataset row of the source's first line
  std::vector<fewshot::Unit> units;   // per log line: tokens, label-free score and alert
  double free_threshold = 1.0;        // the label-free operating point (fewshot::OperatingPoint)
  std::vector<double> reference;      // every line's label-free score (the threshold's quantiles)
};
absl::StatusOr<LosoLabelFree> ScoreLosoLabelFree(const DetectDataset& data,
                                                 const std::string& source,
                                                 const DetectOptions& options);
// Then per k: fewshot::FewShotDetector on the support rows (default options), scoring the test
// rows with DecisionScore; threshold = the detector's (score >= threshold exactly when Alert).
// InvalidArgument for a row outside the source.
absl::StatusOr<ModelRun> ScoreFewShotLoso(const LosoLabelFree& source, const DetectDataset& data,
                                          const std::vector<size_t>& support,
                                          const std::vector<size_t>& test);
// Up to `per_class` rows of each class of `rows`, seeded (the dev checks' support sets).
std::vector<size_t> PerClassSample(const DetectDataset& data, const std::vector<size_t>& rows,
                                   int per_class, uint64_t seed);
// The few-shot detector `ScoreLineEncoder` fits on `support` (shared with ScoreLineEncoderFused).
absl::StatusOr<model::FewShotModel> AdaptLineEncoder(const DetectDataset& data,
                                                     const LineEncoderFit& fit,
                                                     const std::vector<size_t>& support,
                                                     bool calibrate_on_support,
                                                     const DetectOptions& options);
// Block/application protocols: the session classifier (common/model/session_detector.h) over each
// session's template-id sequence, threshold on a 20% hold-out of the training sessions.
absl::StatusOr<ModelRun> RunSessionEncoder(const DetectDataset& data, const TrainSetup& setup,
                                           const DetectOptions& options, std::string* log);

// One table of the report: a model (and k) evaluated on several sources or splits.
struct ResultTable {
  std::string model;
  int k = -1;  // loso shots; -1 for other protocols
  std::string title;
  std::vector<eval::SourceResult> rows;  // two-class sources / splits
  std::vector<eval::SourceResult>
      single_class;                // loso: sources with one class, reported separately
  std::vector<int> pooled_labels;  // every test sample, for plots
  std::vector<double> pooled_scores;
  std::vector<double> thresholds;
};

// Writes results.json, results.md and the SVG plots under options.out_dir (eval_detect_report.cc).
absl::Status WriteDetectResults(const DetectOptions& options, const DetectDataset& data,
                                const std::vector<ResultTable>& tables, double runtime_s);

// SVG renderings (eval_detect_report.cc): precision-recall curves of several models, and a
// per-class score histogram of one model.
std::string PrCurveSvg(const std::string& title, const std::vector<const ResultTable*>& tables);
std::string ScoreHistogramSvg(const std::string& title, const ResultTable& table, int bins = 20);

// The protocol drivers (eval_detect_verb.cc).
absl::Status RunDetectEvaluation(const DetectOptions& options);
int RunEvalDetect(const std::vector<std::string>& args);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_DETECT_H_
