// The session Transformer behind session_detector.h. Internal to common/model: includes torch.
// Parameter names (stable, see docs/MODEL.md): tok.weight [num_templates + 2, d_model] (unknown id
// = num_templates, padding = num_templates + 1), pos.weight [max_len, d_model],
// encoder.layers.<i>.* (torch's TransformerEncoderLayer names), cls.{weight,bias} [2, d_model],
// next.{weight,bias} [num_templates + 1, d_model].
#ifndef FEDLOG_COMMON_MODEL_SESSION_MODEL_H_
#define FEDLOG_COMMON_MODEL_SESSION_MODEL_H_

#include <torch/torch.h>

#include <vector>

#include "common/model/session_detector.h"

namespace fedlog::model {

// Sessions packed as a padded batch.
struct SessionBatch {
  torch::Tensor ids;  // [n, s] int64 token ids (padding = num_templates + 1)
  torch::Tensor pad;  // [n, s] bool, true at padding
};

// Packs `windows` (each 1..max_len events, ids already mapped to tokens) on `device`.
SessionBatch PackSessions(const SessionSpec& spec, const std::vector<std::vector<int64_t>>& windows,
                          const torch::Device& device);
// Maps raw template ids to tokens (unknown ids -> num_templates).
std::vector<int64_t> ToTokens(const SessionSpec& spec, const std::vector<int64_t>& ids);

class SessionModelImpl : public torch::nn::Module {
 public:
  explicit SessionModelImpl(const SessionSpec& spec);
  // Hidden states [n, s, d_model]; `causal` hides later events from each position (next-event
  // head).
  torch::Tensor forward(const SessionBatch& batch, bool causal);
  // Classifier logits [n, 2] from the mean of non-padding hidden states.
  torch::Tensor Classify(const SessionBatch& batch);
  // Next-event logits [n, s, num_templates + 1]: position t predicts event t + 1.
  torch::Tensor NextLogits(const SessionBatch& batch);

 private:
  SessionSpec spec_;
  torch::nn::Embedding tok_{nullptr};
  torch::nn::Embedding pos_{nullptr};
  torch::nn::TransformerEncoder encoder_{nullptr};
  torch::nn::Linear cls_{nullptr};
  torch::nn::Linear next_{nullptr};
};
TORCH_MODULE(SessionModel);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SESSION_MODEL_H_
