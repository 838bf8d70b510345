// Self-supervised contrastive pre-training of the line encoder, behind a torch-free interface.
// Sites with no labels at all still learn a representation: two augmented views of each line (token
// dropout, re-sampled parameter tokens, dense-feature noise) and lines sharing a Drain template id
// are positives; everything else in the batch is a negative (InfoNCE, temperature 0.07 by default).
// Optionally (jaccard_weight) the encoder's pair cosines are also regressed onto the pairs' token
// Jaccard similarity.
// Thread-safety: reentrant, but torch's intra-op thread count is process-wide
// (RuntimeOptions::threads).
#ifndef FEDLOG_COMMON_MODEL_CONTRASTIVE_TRAINER_H_
#define FEDLOG_COMMON_MODEL_CONTRASTIVE_TRAINER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/augment.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

struct ContrastiveOptions {
  int steps = 200;       // optimizer steps
  int batch_size = 256;  // lines per step (2x views in the loss)
  float temperature = 0.07f;
  float encoder_lr = 2e-5f;        // embed.*, mlp.*, norm.*, out.*
  float adapter_lr = 1e-3f;        // adapter.*: start at identity, so they need the head's pace
  float head_lr = 1e-3f;           // head.*
  bool template_alignment = true;  // lines with equal template_ids are positives of each other
  // FedProx: > 0 adds prox_mu/2 * ||w - w_start||^2 over the shared parameters (all but adapter.*
  // and head.*), anchored at `start`; embed.weight rows count when a step touches them. 0: off.
  float prox_mu = 0;
  // Token-overlap alignment: > 0 adds jaccard_weight * PairSimilarityLoss (losses.h) of the two
  // views' encoder outputs (not the head's) against the Jaccard similarity of the batch lines'
  // token sets, so that the encoder's cosine orders lines as their token sets do. 0: off (the
  // loss and the random draws are then exactly those of plain InfoNCE). docs/MODEL.md.
  float jaccard_weight = 0;
  AugmentOptions augment;
  RuntimeOptions runtime;
};

struct ContrastiveResult {
  fl::TensorBundle weights;  // every encoder parameter after training
  double initial_loss = 0;   // loss of the first step
  double final_loss = 0;     // mean loss over the last min(10, steps) steps (incl. proximal term)
  int64_t steps = 0;
  double seconds = 0;
  std::string device;  // the device actually used
};

// Deterministic initial encoder weights (depends on spec.init_seed only).
absl::StatusOr<fl::TensorBundle> InitialEncoderWeights(const EncoderSpec& spec);

// Trains from `start` on `lines` (labels are ignored). FailedPrecondition with fewer than 2 lines.
absl::StatusOr<ContrastiveResult> PretrainContrastive(const EncoderSpec& spec,
                                                      const fl::TensorBundle& start,
                                                      const LineSet& lines,
                                                      const ContrastiveOptions& options);

// L2-normalised embeddings [lines, out_dim] in eval mode (no dropout), each line through its source
// adapter.
absl::StatusOr<DenseMatrix> Embed(const EncoderSpec& spec, const fl::TensorBundle& weights,
                                  const LineSet& lines, const RuntimeOptions& runtime);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_CONTRASTIVE_TRAINER_H_
