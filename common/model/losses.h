// Loss functions of the learning core, on plain tensors so tests can check them against
// hand-computed values. Internal to common/model: includes torch. All are differentiable and
// device-agnostic.
#ifndef FEDLOG_COMMON_MODEL_LOSSES_H_
#define FEDLOG_COMMON_MODEL_LOSSES_H_

#include <torch/torch.h>

#include "common/model/encoder_types.h"

namespace fedlog::model {

// Pairwise squared Euclidean distances: a [n, d], b [m, d] -> [n, m], clamped at 0 against
// rounding.
torch::Tensor SquaredEuclidean(const torch::Tensor& a, const torch::Tensor& b);

// Multi-positive InfoNCE over in-batch negatives. z [n, d] (L2-normalised by the caller); positives
// [n, n] bool, true where j is a positive of i (the diagonal is ignored). For anchor i with
// positives P(i):
//   l_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{j != i} exp(z_i.z_j / t) )
// and the loss is the mean of l_i over anchors with at least one positive (0 when there is none).
torch::Tensor InfoNceLoss(const torch::Tensor& z, const torch::Tensor& positives,
                          double temperature);

// InfoNceLoss's positives for the 2B rows [view1; view2] of `batch`: the other view of the same line,
// plus (template_alignment) every row whose line shares the template id. [2B, 2B] bool on `device`.
torch::Tensor ContrastivePositives(const LineSet& batch, bool template_alignment,
                                   const torch::Device& device);

// Pairwise Jaccard similarity of the token sets of `a`'s and `b`'s lines (duplicates within a line
// count once; two empty lines 1, an empty and a non-empty one 0): [a.size(), b.size()] float on
// `device`. Raw token ids, as the Jaccard 1-NN baseline compares them.
torch::Tensor TokenJaccardMatrix(const std::vector<std::vector<int64_t>>& a,
                                 const std::vector<std::vector<int64_t>>& b,
                                 const torch::Device& device);

// Token-overlap alignment: mean over every (i, j) of (a_i . b_j - target_ij)^2, with a [n, d] and
// b [m, d] unit rows and target [n, m] (TokenJaccardMatrix). Zero when the cosine of two lines'
// embeddings equals the Jaccard similarity of their token sets.
torch::Tensor PairSimilarityLoss(const torch::Tensor& a, const torch::Tensor& b,
                                 const torch::Tensor& target);

// Class means: emb [n, d], labels [n] int64 in [0, classes) -> [classes, d]. A class without rows
// gets 0s.
torch::Tensor ClassPrototypes(const torch::Tensor& emb, const torch::Tensor& labels,
                              int64_t classes);

// Prototypical loss: cross-entropy of softmax(-scale * ||q - c_k||^2) against labels [n] int64.
torch::Tensor PrototypicalLoss(const torch::Tensor& queries, const torch::Tensor& labels,
                               const torch::Tensor& prototypes, double scale);

// Siamese part of the hybrid loss, with the prototypes as anchors' partners: for each query,
// max(0, d(q, c_y) - min_{k != y} d(q, c_k) + margin), averaged (squared Euclidean distances).
torch::Tensor PrototypeTripletLoss(const torch::Tensor& queries, const torch::Tensor& labels,
                                   const torch::Tensor& prototypes, double margin);

// Focal loss over softmax logits [n, c], targets [n] int64: mean of -alpha_t (1 - p_t)^gamma log
// p_t, with alpha_t = alpha for anomalous targets (> 0) and 1 - alpha for normal ones (target 0).
torch::Tensor FocalLoss(const torch::Tensor& logits, const torch::Tensor& targets, double alpha,
                        double gamma);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_LOSSES_H_
