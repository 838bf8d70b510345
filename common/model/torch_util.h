// Internal helpers shared by common/model's torch code: converting our value types to tensors and
// back, preparing a run (device, threads, seed), and turning torch exceptions into absl::Status at
// the boundary. Includes torch; never include from a public header.
#ifndef FEDLOG_COMMON_MODEL_TORCH_UTIL_H_
#define FEDLOG_COMMON_MODEL_TORCH_UTIL_H_

#include <torch/torch.h>

#include <exception>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

// Name -> tensor, the currency of functional forwards: a module's own parameters or MAML fast
// weights.
using ParamMap = std::map<std::string, torch::Tensor>;

ParamMap ParamsOf(torch::nn::Module& module);

// Resolves runtime.device, sets torch's intra-op threads and seeds torch (CPU and CUDA generators).
absl::StatusOr<torch::Device> PrepareRuntime(const RuntimeOptions& runtime);

// Copies a DenseMatrix into a float32 tensor [rows, cols] on `device`.
torch::Tensor DenseToTensor(const DenseMatrix& m, const torch::Device& device);
// Copies a 2-D float tensor (any device) into a DenseMatrix.
DenseMatrix TensorToDense(const torch::Tensor& t);
// Copies a 1-D float tensor (any device) into a vector.
std::vector<float> TensorToVector(const torch::Tensor& t);

// Loads the tensors of `bundle` whose names are in `params` (every parameter must be present, same
// shape). Tensors in the bundle that the module lacks are ignored only when `allow_extra`.
absl::Status LoadParams(const fl::TensorBundle& bundle, torch::nn::Module& module,
                        bool allow_extra);

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) and turns any torch/std exception into
// Internal.
template <typename Fn>
auto GuardTorch(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(std::string("torch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("torch: ") + e.what());
  }
}

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_TORCH_UTIL_H_
