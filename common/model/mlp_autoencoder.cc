#include "common/model/mlp_autoencoder.h"

#include "absl/strings/str_cat.h"

namespace fedlog::model {

MlpAutoencoderImpl::MlpAutoencoderImpl(const MlpSpec& spec) {
  encoder_ = torch::nn::Sequential();
  decoder_ = torch::nn::Sequential();
  int in = spec.input_dim;
  for (size_t i = 0; i < spec.hidden.size(); ++i) {
    encoder_->push_back(torch::nn::Linear(in, spec.hidden[i]));
    if (i + 1 < spec.hidden.size()) encoder_->push_back(torch::nn::ReLU());
    in = spec.hidden[i];
  }
  for (int i = static_cast<int>(spec.hidden.size()) - 2; i >= -1; --i) {
    int out = i >= 0 ? spec.hidden[i] : spec.input_dim;
    decoder_->push_back(torch::nn::ReLU());
    decoder_->push_back(torch::nn::Linear(in, out));
    in = out;
  }
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
}

torch::Tensor MlpAutoencoderImpl::forward(const torch::Tensor& x) { return decoder_->forward(encoder_->forward(x)); }

fl::TensorBundle ToBundle(torch::nn::Module& module) {
  fl::TensorBundle bundle;
  for (const auto& item : module.named_parameters()) {
    torch::Tensor t = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    fl::NamedTensor nt;
    nt.name = item.key();
    nt.shape.assign(t.sizes().begin(), t.sizes().end());
    const float* p = t.data_ptr<float>();
    nt.values.assign(p, p + t.numel());
    bundle.tensors.push_back(std::move(nt));
  }
  return bundle;
}

absl::Status FromBundle(const fl::TensorBundle& bundle, torch::nn::Module& module) {
  auto params = module.named_parameters();
  if (params.size() != bundle.tensors.size()) {
    return absl::InvalidArgumentError(absl::StrCat("model has ", params.size(), " parameters, bundle has ",
                                                   bundle.tensors.size()));
  }
  torch::NoGradGuard no_grad;
  for (auto& item : params) {
    const fl::NamedTensor* nt = bundle.Find(item.key());
    if (nt == nullptr) return absl::InvalidArgumentError(absl::StrCat("bundle lacks '", item.key(), "'"));
    std::vector<int64_t> shape(item.value().sizes().begin(), item.value().sizes().end());
    if (shape != nt->shape) {
      return absl::InvalidArgumentError(absl::StrCat("shape mismatch for '", item.key(), "'"));
    }
    torch::Tensor src = torch::from_blob(const_cast<float*>(nt->values.data()), nt->shape, torch::kFloat32);
    item.value().copy_(src.to(item.value().device()));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::model
