#include "common/model/session_model.h"

#include <algorithm>

namespace fedlog::model {

std::vector<int64_t> ToTokens(const SessionSpec& spec, const std::vector<int64_t>& ids) {
  std::vector<int64_t> out;
  out.reserve(ids.size());
  for (int64_t id : ids)
    out.push_back(id >= 0 && id < spec.num_templates ? id : spec.num_templates);
  return out;
}

SessionBatch PackSessions(const SessionSpec& spec, const std::vector<std::vector<int64_t>>& windows,
                          const torch::Device& device) {
  size_t len = 1;
  for (const auto& w : windows) len = std::max(len, w.size());
  const int64_t n = static_cast<int64_t>(windows.size()), s = static_cast<int64_t>(len);
  std::vector<int64_t> ids(static_cast<size_t>(n * s), spec.num_templates + 1);
  for (int64_t i = 0; i < n; ++i)
    std::copy(windows[i].begin(), windows[i].end(), ids.begin() + i * s);
  SessionBatch batch;
  batch.ids = torch::tensor(ids, torch::kInt64).view({n, s}).to(device);
  batch.pad = batch.ids == spec.num_templates + 1;
  return batch;
}

SessionModelImpl::SessionModelImpl(const SessionSpec& spec) : spec_(spec) {
  tok_ = register_module(
      "tok", torch::nn::Embedding(torch::nn::EmbeddingOptions(spec.num_templates + 2, spec.d_model)
                                      .padding_idx(spec.num_templates + 1)));
  pos_ = register_module("pos", torch::nn::Embedding(spec.max_len, spec.d_model));
  auto layer = torch::nn::TransformerEncoderLayer(
      torch::nn::TransformerEncoderLayerOptions(spec.d_model, spec.heads)
          .dim_feedforward(spec.ff_dim)
          .dropout(spec.dropout));
  encoder_ = register_module(
      "encoder",
      torch::nn::TransformerEncoder(torch::nn::TransformerEncoderOptions(layer, spec.layers)));
  cls_ = register_module("cls", torch::nn::Linear(spec.d_model, 2));
  next_ = register_module("next", torch::nn::Linear(spec.d_model, spec.num_templates + 1));
}

torch::Tensor SessionModelImpl::forward(const SessionBatch& batch, bool causal) {
  const int64_t s = batch.ids.size(1);
  torch::Tensor positions =
      torch::arange(s, torch::TensorOptions().dtype(torch::kInt64).device(batch.ids.device()));
  torch::Tensor x = tok_->forward(batch.ids) + pos_->forward(positions).unsqueeze(0);
  torch::Tensor mask;
  if (causal) {
    // Additive float mask: -inf above the diagonal. Padding sits on the right, so every row keeps
    // at least its first (real) key and the softmax never sees an all-masked row.
    mask = torch::full({s, s}, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
  }
  // torch's C++ TransformerEncoder takes [s, n, d].
  torch::Tensor h = encoder_->forward(x.transpose(0, 1), mask, batch.pad);
  return h.transpose(0, 1);
}

torch::Tensor SessionModelImpl::Classify(const SessionBatch& batch) {
  torch::Tensor h = forward(batch, /*causal=*/false);
  torch::Tensor keep = batch.pad.logical_not().unsqueeze(2).to(h.dtype());
  torch::Tensor pooled = (h * keep).sum(1) / keep.sum(1).clamp_min(1.0);
  return cls_->forward(pooled);
}

torch::Tensor SessionModelImpl::NextLogits(const SessionBatch& batch) {
  return next_->forward(forward(batch, /*causal=*/true));
}

}  // namespace fedlog::model
