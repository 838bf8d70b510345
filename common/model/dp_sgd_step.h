// The torch-level pieces of line-level DP-SGD (dp_sgd.h): Poisson sampling into micro-batches, the
// clipped, noised gradient sum of one step, and the loops' shared parameter handling. Internal to common/model: includes torch.
// Thread-compatible: one instance per training loop.
#ifndef FEDLOG_COMMON_MODEL_DP_SGD_STEP_H_
#define FEDLOG_COMMON_MODEL_DP_SGD_STEP_H_

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "common/model/encoder.h"
#include "common/privacy/gaussian_noise.h"

namespace fedlog::model {

// Poisson sampling of one step: each of rows 0..n-1 independently with probability q, each sampled
// row put into one of `slots` micro-batches uniformly; all bits from `sampler` (a CSPRNG), so
// neither the batch nor its split can be predicted from a seed. Returns `slots` lists (some may be
// empty).
std::vector<std::vector<int64_t>> PoissonMicrobatches(int64_t n, double q, int slots,
                                                      privacy::GaussianSampler& sampler);

// Sum over a step's micro-batches of each one's gradient clipped to a joint L2 norm over `params`.
class ClippedGradientSum {
 public:
  // `params`: the trainable leaves (dense gradients, or sparse row gradients of a 2-d table such as
  // embed.weight; the sum is always dense). `microbatch_clip` > 0: the bound on one micro-batch's
  // gradient (C/2 in line-level DP-SGD).
  ClippedGradientSum(std::vector<torch::Tensor> params, double microbatch_clip);

  // Takes the gradients the last backward left on `params` (undefined ones count as 0; sparse ones
  // coalesced first), scales them by min(1, clip / joint norm), adds them to the sum and clears
  // them. Returns the norm before clipping.
  double Accumulate();

  // Writes (sum + noise) / denominator into every parameter's gradient (dense), noise
  // N(0, noise_std^2) on EVERY coordinate from `sampler`, touched by the step or not, then zeroes
  // the sum for the next step.
  void WriteNoisyMean(double noise_std, double denominator, privacy::GaussianSampler& sampler);

  const std::vector<torch::Tensor>& params() const { return params_; }
  const std::vector<torch::Tensor>& sum() const { return sum_; }

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> sum_;  // same shapes as params_, on their devices
  double clip_;
};

// The trainable parameters of a DP loop: embed.weight in `encoder` when train_embedding (its
// gradient sparse, its noise dense), else frozen (requires_grad off, so no gradient is even
// computed); head.* only when `with_head`.
struct DpParams {
  std::vector<torch::Tensor> encoder, adapters, head;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> prox;  // (shared param, anchor)
  std::vector<torch::Tensor> All() const {
    std::vector<torch::Tensor> all = encoder;
    all.insert(all.end(), adapters.begin(), adapters.end());
    all.insert(all.end(), head.begin(), head.end());
    return all;
  }
};
DpParams SplitParams(Encoder& net, bool with_head, bool train_embedding, double prox_mu);

// FedProx after the noise: the term depends on the weights and the round's start only, not on the
// lines, so adding its gradient costs no privacy. Returns the term's value.
double AddProx(const DpParams& params, double mu);

// Mean of the last (up to) 10 values; 0 for none.
double TailMean(const std::vector<double>& losses);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_DP_SGD_STEP_H_
