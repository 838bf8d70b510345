#include "common/model/local_trainer.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/mlp_autoencoder.h"

namespace fedlog::model {
namespace {

absl::Status CheckSpec(const MlpSpec& spec) {
  if (spec.input_dim <= 0) return absl::InvalidArgumentError("model input_dim must be positive");
  if (spec.hidden.empty()) return absl::InvalidArgumentError("model needs at least one hidden layer");
  for (int h : spec.hidden) {
    if (h <= 0) return absl::InvalidArgumentError("hidden layer widths must be positive");
  }
  return absl::OkStatus();
}

absl::Status CheckInput(const MlpSpec& spec, const DenseMatrix& x) {
  if (x.cols != spec.input_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature rows have ", x.cols, " columns, the model expects ", spec.input_dim));
  }
  if (static_cast<int64_t>(x.data.size()) != x.rows * x.cols) {
    return absl::InvalidArgumentError("feature matrix size does not match rows x cols");
  }
  return absl::OkStatus();
}

torch::Tensor ToTensor(const DenseMatrix& x) {
  return torch::from_blob(const_cast<float*>(x.data.data()), {x.rows, x.cols}, torch::kFloat32).clone();
}

absl::StatusOr<MlpAutoencoder> BuildModel(const MlpSpec& spec, const fl::TensorBundle& weights,
                                          const torch::Device& device) {
  FEDLOG_RETURN_IF_ERROR(CheckSpec(spec));
  MlpAutoencoder net(spec);
  FEDLOG_RETURN_IF_ERROR(FromBundle(weights, *net));
  net->to(device);
  return net;
}

absl::StatusOr<TrainResult> TrainImpl(const MlpSpec& spec, const fl::TensorBundle& start, const DenseMatrix& x,
                                      const TrainOptions& options) {
  FEDLOG_RETURN_IF_ERROR(CheckInput(spec, x));
  if (x.rows == 0) return absl::FailedPreconditionError("no training rows");
  if (options.epochs <= 0 || options.batch_size <= 0 || !(options.learning_rate > 0)) {
    return absl::InvalidArgumentError("epochs, batch_size and learning_rate must be positive");
  }
  FEDLOG_ASSIGN_OR_RETURN(std::string device_name, ResolveDevice(options.device));
  torch::Device device(device_name);
  FEDLOG_ASSIGN_OR_RETURN(MlpAutoencoder net, BuildModel(spec, start, device));
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor data = ToTensor(x).to(device);
  TrainResult result;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    result.initial_loss = torch::mse_loss(net->forward(data), data).item<double>();
  }
  net->train();
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(options.learning_rate));
  torch::Generator gen = torch::make_generator<torch::CPUGeneratorImpl>(options.seed);
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    torch::Tensor perm = torch::randperm(x.rows, gen, torch::TensorOptions().dtype(torch::kLong)).to(device);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t begin = 0; begin < x.rows; begin += options.batch_size) {
      int64_t end = std::min<int64_t>(begin + options.batch_size, x.rows);
      torch::Tensor batch = data.index_select(0, perm.slice(0, begin, end));
      opt.zero_grad();
      torch::Tensor loss = torch::mse_loss(net->forward(batch), batch);
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(end - begin);
      seen += end - begin;
      ++result.steps;
    }
    result.final_loss = loss_sum / static_cast<double>(seen);
  }
  result.weights = ToBundle(*net);
  result.samples = x.rows;
  result.device = device_name;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace

void SetTorchThreads(int n) {
  if (n > 0) torch::set_num_threads(n);
}

absl::StatusOr<std::string> ResolveDevice(const std::string& requested) {
  if (requested.empty() || requested == "auto") return torch::cuda::is_available() ? "cuda" : "cpu";
  if (requested == "cpu") return requested;
  if (requested == "cuda" || absl::StartsWith(requested, "cuda:")) {
    if (!torch::cuda::is_available()) {
      return absl::UnavailableError(absl::StrCat("device '", requested, "' requested but CUDA is not available"));
    }
    if (requested.size() > 5) {
      int index;
      if (!absl::SimpleAtoi(requested.substr(5), &index) || index < 0 ||
          index >= static_cast<int>(torch::cuda::device_count())) {
        return absl::InvalidArgumentError(absl::StrCat("no CUDA device '", requested, "'"));
      }
    }
    return requested;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown device '", requested, "' (cpu, cuda, cuda:N, auto)"));
}

absl::StatusOr<fl::TensorBundle> InitialWeights(const MlpSpec& spec) {
  FEDLOG_RETURN_IF_ERROR(CheckSpec(spec));
  try {
    torch::manual_seed(spec.init_seed);
    MlpAutoencoder net(spec);
    return ToBundle(*net);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("torch: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<TrainResult> Train(const MlpSpec& spec, const fl::TensorBundle& start, const DenseMatrix& x,
                                  const TrainOptions& options) {
  try {
    return TrainImpl(spec, start, x, options);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("torch: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::vector<float>> Score(const MlpSpec& spec, const fl::TensorBundle& weights,
                                         const DenseMatrix& x, const std::string& device) {
  try {
    FEDLOG_RETURN_IF_ERROR(CheckInput(spec, x));
    FEDLOG_ASSIGN_OR_RETURN(std::string device_name, ResolveDevice(device));
    torch::Device dev(device_name);
    FEDLOG_ASSIGN_OR_RETURN(MlpAutoencoder net, BuildModel(spec, weights, dev));
    torch::NoGradGuard no_grad;
    net->eval();
    torch::Tensor data = ToTensor(x).to(dev);
    torch::Tensor err = (net->forward(data) - data).pow(2).mean(1).to(torch::kCPU).contiguous();
    const float* p = err.data_ptr<float>();
    return std::vector<float>(p, p + err.numel());
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("torch: ", e.what_without_backtrace()));
  }
}

}  // namespace fedlog::model
