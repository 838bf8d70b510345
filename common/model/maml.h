// MAML machinery on explicit fast weights. Internal to common/model: includes torch.
// Inner steps never write to the module's parameters: they build new tensors (fast = slow - lr *
// grad), so the slow weights change only through the outer optimizer. With first_order the inner
// gradients are detached, which makes d fast / d slow the identity (FOMAML); otherwise the graph
// through the inner steps is kept.
#ifndef FEDLOG_COMMON_MODEL_MAML_H_
#define FEDLOG_COMMON_MODEL_MAML_H_

#include <torch/torch.h>

#include "common/model/encoder.h"

namespace fedlog::model {

struct InnerLoopOptions {
  int steps = 5;
  double lr = 1e-2;
  bool first_order = false;
  bool adapt_embedding = false;
  double distance_scale = 10.0;
};

// Prototypical loss of the support set against its own class prototypes, on weights `p`.
torch::Tensor SupportLoss(const ParamMap& p, const EncoderSpec& spec, const EncoderInput& support,
                          const torch::Tensor& labels, int64_t classes, double scale, bool train);

// Fast weights after `options.steps` gradient steps on SupportLoss, starting from `slow`. head.*
// parameters are left as they are (not used by the loss); embed.weight only adapts with
// adapt_embedding.
ParamMap InnerAdapt(const ParamMap& slow, const EncoderSpec& spec, const EncoderInput& support,
                    const torch::Tensor& labels, int64_t classes, const InnerLoopOptions& options,
                    bool train);

// Outer (query) loss of an episode: prototypes from the support set on `fast`, then L_proto on the
// queries, or (L_proto + L_triplet) / 2 when `hybrid`.
torch::Tensor QueryLoss(const ParamMap& fast, const EncoderSpec& spec, const EncoderInput& support,
                        const torch::Tensor& support_labels, const EncoderInput& query,
                        const torch::Tensor& query_labels, int64_t classes, double scale,
                        bool hybrid, double margin);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_MAML_H_
