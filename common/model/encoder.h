// The line encoder (torch module) behind contrastive_trainer.h, meta_trainer.h and few_shot.h.
// Internal to common/model: includes torch.
//
// Every forward is written once, functionally (EncoderForward over a ParamMap), so MAML can run the
// same network on fast weights while the module's own (slow) parameters stay untouched; the
// module's forward is that function applied to its own parameters. Parameter names (stable, see
// docs/MODEL.md):
//   embed.weight                      [vocab_buckets, token_dim]
//   mlp.<i>.weight / mlp.<i>.bias     hidden layer i
//   norm.<i>.weight / norm.<i>.bias   LayerNorm after hidden layer i
//   out.weight / out.bias             last hidden -> out_dim
//   adapter.<source>.down.{weight,bias}, adapter.<source>.up.{weight,bias}
//   head.0.{weight,bias}, head.1.{weight,bias}   contrastive projection head (pre-training only)
#ifndef FEDLOG_COMMON_MODEL_ENCODER_H_
#define FEDLOG_COMMON_MODEL_ENCODER_H_

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "common/model/encoder_types.h"
#include "common/model/torch_util.h"

namespace fedlog::model {

// A LineSet packed for the encoder on one device.
struct EncoderInput {
  torch::Tensor indices;  // [total tokens] int64, already reduced modulo vocab_buckets
  torch::Tensor offsets;  // [lines] int64, start of each line's bag in `indices`
  torch::Tensor dense;    // [lines, dense_dim] float32 (undefined when dense_dim == 0)
  std::vector<std::pair<std::string, torch::Tensor>>
      groups;  // source -> int64 row indices using its adapter
  int64_t rows = 0;
  // embed.weight receives a sparse gradient: a batch touches a few hundred of the 2^15 rows, and a
  // dense gradient per backward means allocating (and page-faulting) the whole table every time.
  // Trainers set it and update embed.weight with SparseRowAdam; MAML fast embedding weights need
  // dense gradients.
  bool sparse_grad = false;
};

// Packs `lines` (already validated against `spec`) onto `device`.
EncoderInput MakeEncoderInput(const EncoderSpec& spec, const LineSet& lines,
                              const torch::Device& device);

// Embeddings [rows, out_dim], L2-normalised, computed with the parameters in `p`. `train` enables
// dropout.
torch::Tensor EncoderForward(const ParamMap& p, const EncoderSpec& spec, const EncoderInput& in,
                             bool train);
// Contrastive projection head over embeddings, also functional.
torch::Tensor HeadForward(const ParamMap& p, const torch::Tensor& z);

class AdapterImpl : public torch::nn::Module {
 public:
  AdapterImpl(int dim, int bottleneck);

 private:
  torch::nn::Linear down_{nullptr};
  torch::nn::Linear up_{nullptr};
};
TORCH_MODULE(Adapter);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const EncoderSpec& spec);
  torch::Tensor forward(const EncoderInput& in);
  torch::Tensor project(const torch::Tensor& z);
  const EncoderSpec& spec() const { return spec_; }

 private:
  EncoderSpec spec_;
};
TORCH_MODULE(Encoder);

// Builds an encoder for `spec` with weights from `bundle` (exact layout) on `device`.
absl::StatusOr<Encoder> LoadEncoder(const EncoderSpec& spec, const fl::TensorBundle& bundle,
                                    const torch::Device& device);

// Embeds `in` in eval mode without autograd, in chunks of `chunk` rows to bound memory.
torch::Tensor EmbedNoGrad(Encoder& net, const EncoderSpec& spec, const LineSet& lines,
                          const torch::Device& device, int64_t chunk = 4096);

// True for the parameters a federation shares across all sites (embed.*, mlp.*, norm.*, out.*),
// i.e. everything but adapter.* and head.*.
bool IsSharedParameter(const std::string& name);

// FedProx's proximal term (Li et al., 2020): mu/2 * sum over the shared parameters of
// ||w - w_anchor||^2, with the anchor = the module's weights when the term is built (the round's
// starting weights). Applied as a gradient after backward(), not through autograd, so embed.weight
// keeps its sparse gradient: for it the term covers the rows the step touched (lazily, as
// SparseRowAdam updates them). A parameter without a gradient this step gets mu * (w - w_anchor).
class ProximalTerm {
 public:
  ProximalTerm(EncoderImpl& net, double mu);
  bool active() const { return mu_ > 0; }
  // Adds d(term)/dw to every shared parameter's gradient; returns the term's value over the same
  // elements (0 when inactive).
  double AddGradients();

 private:
  double mu_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> params_;  // (parameter, anchor copy)
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_ENCODER_H_
