// Meta-learning of the line encoder on labeled episodes, behind a torch-free interface:
// prototypical networks with a MAML-style initialisation, a proto-siamese hybrid loss and an
// imbalance curriculum (episodes.h). The result is an initialisation that adapts to a new site from
// a handful of labels (few_shot.h), plus global normal/anomalous prototypes for sites with no
// labels at all. Thread-safety: reentrant, but torch's intra-op thread count is process-wide
// (RuntimeOptions::threads).
#ifndef FEDLOG_COMMON_MODEL_META_TRAINER_H_
#define FEDLOG_COMMON_MODEL_META_TRAINER_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"
#include "common/model/episodes.h"

namespace fedlog::model {

struct MetaOptions {
  int meta_iterations = 1000;
  int meta_batch = 8;  // episodes per outer step
  EpisodeOptions episode;
  CurriculumOptions curriculum;
  int inner_steps = 5;  // 0: plain prototypical network (no MAML)
  float inner_lr = 1e-2f;
  bool first_order = false;  // FOMAML: no second-order terms through the inner steps
  bool inner_adapt_embedding =
      false;              // inner steps skip embed.weight: a dense 2^15-row gradient per step
                          // dominates cost while a few support lines touch a few rows
  float meta_lr = 1e-3f;  // Adam on the slow weights
  float distance_scale =
      10.0f;  // logits = -scale * squared distance (unit vectors: distances in [0, 4])
  bool hybrid_loss = true;  // L = (L_proto + L_triplet) / 2; false: L_proto
  float triplet_margin = 0.5f;
  // FedProx: > 0 adds prox_mu/2 * ||w - w_start||^2 over the shared parameters (all but adapter.*
  // and head.*) to every outer step's loss, anchored at `start`; embed.weight rows count when a
  // step touches them. 0: off.
  float prox_mu = 0;
  // Token-overlap alignment, as ContrastiveOptions::jaccard_weight: > 0 adds, to every outer step,
  // jaccard_weight * PairSimilarityLoss of `jaccard_batch` lines (drawn from all lines by their own
  // seeded generator, so the episodes do not change) against their token Jaccard similarities.
  // Keeps meta-training from undoing what pre-training aligned. 0: off.
  float jaccard_weight = 0;
  int jaccard_batch = 128;
  RuntimeOptions runtime;
};

struct MetaResult {
  fl::TensorBundle weights;  // slow weights after meta-training
  DenseMatrix
      global_prototypes;    // 2 x out_dim: row 0 normal, row 1 anomalous (any type), all lines
  double initial_loss = 0;  // mean outer loss of the first meta-iteration
  double final_loss = 0;    // mean outer loss over the last min(10, iterations) iterations
                            // (incl. the proximal term when prox_mu > 0)
  int64_t episodes = 0;
  std::array<int, 3> iterations_per_phase = {0, 0, 0};
  double seconds = 0;
  std::string device;
};

// Meta-trains from `start` on labeled `lines` (labels required; sources pick adapters and tasks).
// `imbalance` maps source -> normal:anomalous ratio for the curriculum (missing: measured from
// labels).
absl::StatusOr<MetaResult> MetaTrain(const EncoderSpec& spec, const fl::TensorBundle& start,
                                     const LineSet& lines,
                                     const std::map<std::string, double>& imbalance,
                                     const MetaOptions& options);

// Binary prototypes (row 0: mean embedding of label-0 lines, row 1: of label > 0 lines). A class
// without lines gets a zero row. InvalidArgument without labels.
absl::StatusOr<DenseMatrix> ComputePrototypes(const EncoderSpec& spec,
                                              const fl::TensorBundle& weights, const LineSet& lines,
                                              const RuntimeOptions& runtime);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_META_TRAINER_H_
