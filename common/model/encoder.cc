#include "common/model/encoder.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace fedlog::model {
namespace F = torch::nn::functional;

namespace {

const torch::Tensor& Get(const ParamMap& p, const std::string& name) {
  auto it = p.find(name);
  TORCH_CHECK(it != p.end(), "encoder parameter '", name, "' missing");
  return it->second;
}

torch::Tensor Linear(const ParamMap& p, const std::string& prefix, const torch::Tensor& x) {
  return F::linear(x, Get(p, prefix + ".weight"), Get(p, prefix + ".bias"));
}

}  // namespace

EncoderInput MakeEncoderInput(const EncoderSpec& spec, const LineSet& lines,
                              const torch::Device& device) {
  EncoderInput in;
  in.rows = lines.size();
  std::vector<int64_t> flat;
  std::vector<int64_t> offsets;
  offsets.reserve(lines.tokens.size());
  for (const auto& line : lines.tokens) {
    offsets.push_back(static_cast<int64_t>(flat.size()));
    for (int64_t id : line) {
      int64_t b = id % spec.vocab_buckets;
      flat.push_back(b < 0 ? b + spec.vocab_buckets : b);
    }
  }
  auto long_opts = torch::TensorOptions().dtype(torch::kInt64);
  in.indices = torch::tensor(flat, long_opts).to(device);
  in.offsets = torch::tensor(offsets, long_opts).to(device);
  if (spec.dense_dim > 0) in.dense = DenseToTensor(lines.dense, device);
  std::map<std::string, std::vector<int64_t>> by_source;
  for (size_t i = 0; i < lines.sources.size(); ++i) {
    if (!lines.sources[i].empty()) by_source[lines.sources[i]].push_back(static_cast<int64_t>(i));
  }
  for (auto& [source, rows] : by_source) {
    in.groups.emplace_back(source, torch::tensor(rows, long_opts).to(device));
  }
  return in;
}

torch::Tensor EncoderForward(const ParamMap& p, const EncoderSpec& spec, const EncoderInput& in,
                             bool train) {
  torch::Tensor h = F::embedding_bag(
      in.indices, Get(p, "embed.weight"),
      F::EmbeddingBagFuncOptions().offsets(in.offsets).mode(torch::kMean).sparse(in.sparse_grad));
  if (spec.dense_dim > 0) h = torch::cat({h, in.dense}, 1);
  for (size_t i = 0; i < spec.hidden.size(); ++i) {
    const std::string idx = std::to_string(i);
    h = Linear(p, "mlp." + idx, h);
    h = torch::layer_norm(h, {spec.hidden[i]}, Get(p, "norm." + idx + ".weight"),
                          Get(p, "norm." + idx + ".bias"));
    h = torch::dropout(torch::relu(h), spec.dropout, train);
  }
  torch::Tensor z = Linear(p, "out", h);
  for (const auto& [source, rows] : in.groups) {
    // Residual bottleneck on this source's rows only; index_add keeps other rows (and adapters) out
    // of the graph, so a site's update touches only the adapter of the source it runs.
    const std::string prefix = "adapter." + source;
    torch::Tensor zs = z.index_select(0, rows);
    torch::Tensor delta = Linear(p, prefix + ".up", torch::relu(Linear(p, prefix + ".down", zs)));
    z = z.index_add(0, rows, delta);
  }
  return F::normalize(z, F::NormalizeFuncOptions().p(2.0).dim(1).eps(1e-12));
}

torch::Tensor HeadForward(const ParamMap& p, const torch::Tensor& z) {
  return Linear(p, "head.1", torch::relu(Linear(p, "head.0", z)));
}

AdapterImpl::AdapterImpl(int dim, int bottleneck) {
  down_ = register_module("down", torch::nn::Linear(dim, bottleneck));
  up_ = register_module("up", torch::nn::Linear(bottleneck, dim));
  // Zero up-projection: a new adapter starts as the identity, so adding a source never perturbs the
  // shared encoder's embeddings before that source has trained.
  torch::NoGradGuard no_grad;
  up_->weight.zero_();
  up_->bias.zero_();
}

EncoderImpl::EncoderImpl(const EncoderSpec& spec) : spec_(spec) {
  register_module(
      "embed",
      torch::nn::EmbeddingBag(
          torch::nn::EmbeddingBagOptions(spec.vocab_buckets, spec.token_dim).mode(torch::kMean)));
  auto mlp = torch::nn::ModuleList();
  auto norm = torch::nn::ModuleList();
  int in = spec.token_dim + spec.dense_dim;
  for (int h : spec.hidden) {
    mlp->push_back(torch::nn::Linear(in, h));
    norm->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
    in = h;
  }
  register_module("mlp", mlp);
  register_module("norm", norm);
  register_module("out", torch::nn::Linear(in, spec.out_dim));
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> adapters;
  for (const std::string& source : spec.sources) {
    adapters.emplace_back(source, Adapter(spec.out_dim, spec.adapter_dim).ptr());
  }
  register_module("adapter", torch::nn::ModuleDict(adapters));
  auto head = torch::nn::ModuleList();
  head->push_back(torch::nn::Linear(spec.out_dim, spec.head_dim));
  head->push_back(torch::nn::Linear(spec.head_dim, spec.head_dim));
  register_module("head", head);
}

torch::Tensor EncoderImpl::forward(const EncoderInput& in) {
  return EncoderForward(ParamsOf(*this), spec_, in, is_training());
}

torch::Tensor EncoderImpl::project(const torch::Tensor& z) {
  return HeadForward(ParamsOf(*this), z);
}

absl::StatusOr<Encoder> LoadEncoder(const EncoderSpec& spec, const fl::TensorBundle& bundle,
                                    const torch::Device& device) {
  FEDLOG_RETURN_IF_ERROR(ValidateEncoderSpec(spec));
  Encoder net(spec);
  FEDLOG_RETURN_IF_ERROR(LoadParams(bundle, *net, /*allow_extra=*/false));
  net->to(device);
  return net;
}

torch::Tensor EmbedNoGrad(Encoder& net, const EncoderSpec& spec, const LineSet& lines,
                          const torch::Device& device, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const bool was_training = net->is_training();
  net->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < lines.size(); begin += chunk) {
    std::vector<int64_t> rows;
    for (int64_t r = begin; r < std::min(lines.size(), begin + chunk); ++r) rows.push_back(r);
    parts.push_back(net->forward(MakeEncoderInput(spec, SelectLines(lines, rows), device)));
  }
  net->train(was_training);
  if (parts.empty()) return torch::zeros({0, spec.out_dim}, torch::TensorOptions().device(device));
  return torch::cat(parts, 0);
}

bool IsSharedParameter(const std::string& name) {
  return name.rfind("adapter.", 0) != 0 && name.rfind("head.", 0) != 0;
}

ProximalTerm::ProximalTerm(EncoderImpl& net, double mu) : mu_(mu) {
  if (mu_ <= 0) return;
  torch::NoGradGuard no_grad;
  for (auto& item : net.named_parameters()) {
    if (IsSharedParameter(item.key()))
      params_.emplace_back(item.value(), item.value().detach().clone());
  }
}

double ProximalTerm::AddGradients() {
  if (!active()) return 0;
  torch::NoGradGuard no_grad;
  double value = 0;
  for (auto& [param, anchor] : params_) {
    torch::Tensor grad = param.grad();
    if (grad.defined() && grad.is_sparse()) {
      grad = grad.coalesce();
      torch::Tensor rows = grad.indices()[0];
      torch::Tensor diff = param.index_select(0, rows) - anchor.index_select(0, rows);
      value += 0.5 * mu_ * diff.pow(2).sum().item<double>();
      param.mutable_grad() = torch::sparse_coo_tensor(grad.indices(), grad.values() + mu_ * diff,
                                                      grad.sizes(), grad.options());
      continue;
    }
    torch::Tensor diff = param - anchor;
    value += 0.5 * mu_ * diff.pow(2).sum().item<double>();
    if (grad.defined())
      param.mutable_grad().add_(diff, mu_);
    else
      param.mutable_grad() = diff * mu_;
  }
  return value;
}

}  // namespace fedlog::model
