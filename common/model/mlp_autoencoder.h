// The torch module behind local_trainer.h. Internal to common/model: includes torch.
#ifndef FEDLOG_COMMON_MODEL_MLP_AUTOENCODER_H_
#define FEDLOG_COMMON_MODEL_MLP_AUTOENCODER_H_

#include <torch/torch.h>

#include "common/model/local_trainer.h"

namespace fedlog::model {

class MlpAutoencoderImpl : public torch::nn::Module {
 public:
  explicit MlpAutoencoderImpl(const MlpSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::Sequential decoder_{nullptr};
};
TORCH_MODULE(MlpAutoencoder);

// Copies module parameters into a bundle (names from named_parameters(), e.g. "encoder.0.weight").
fl::TensorBundle ToBundle(torch::nn::Module& module);
// Loads `bundle` into the module's parameters; the layout must match exactly.
absl::Status FromBundle(const fl::TensorBundle& bundle, torch::nn::Module& module);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_MLP_AUTOENCODER_H_
