#include "common/model/torch_util.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/local_trainer.h"

namespace fedlog::model {

ParamMap ParamsOf(torch::nn::Module& module) {
  ParamMap out;
  for (const auto& item : module.named_parameters()) out.emplace(item.key(), item.value());
  return out;
}

absl::StatusOr<torch::Device> PrepareRuntime(const RuntimeOptions& runtime) {
  FEDLOG_ASSIGN_OR_RETURN(std::string name, ResolveDevice(runtime.device));
  SetTorchThreads(runtime.threads);
  // at::manual_seed also seeds every CUDA generator when CUDA is present, so one call covers both
  // builds.
  torch::manual_seed(runtime.seed);
  return torch::Device(name);
}

torch::Tensor DenseToTensor(const DenseMatrix& m, const torch::Device& device) {
  if (m.rows == 0 || m.cols == 0)
    return torch::zeros({m.rows, m.cols}, torch::TensorOptions().device(device));
  torch::Tensor t =
      torch::from_blob(const_cast<float*>(m.data.data()), {m.rows, m.cols}, torch::kFloat32);
  // from_blob aliases the caller's memory; clone before any device move so the tensor owns its
  // storage.
  return device.is_cpu() ? t.clone() : t.to(device);
}

DenseMatrix TensorToDense(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  DenseMatrix m(c.size(0), c.size(1));
  std::copy(c.data_ptr<float>(), c.data_ptr<float>() + c.numel(), m.data.begin());
  return m;
}

std::vector<float> TensorToVector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

absl::Status LoadParams(const fl::TensorBundle& bundle, torch::nn::Module& module,
                        bool allow_extra) {
  auto params = module.named_parameters();
  if (!allow_extra && params.size() != bundle.tensors.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model has ", params.size(), " parameters, bundle has ", bundle.tensors.size()));
  }
  torch::NoGradGuard no_grad;
  for (auto& item : params) {
    const fl::NamedTensor* nt = bundle.Find(item.key());
    if (nt == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("bundle lacks '", item.key(), "'"));
    std::vector<int64_t> shape(item.value().sizes().begin(), item.value().sizes().end());
    if (shape != nt->shape || nt->NumElements() != static_cast<int64_t>(nt->values.size())) {
      return absl::InvalidArgumentError(absl::StrCat("shape mismatch for '", item.key(), "'"));
    }
    torch::Tensor src =
        torch::from_blob(const_cast<float*>(nt->values.data()), nt->shape, torch::kFloat32);
    item.value().copy_(src.to(item.value().device()));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::model
