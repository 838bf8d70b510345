#include "common/model/maml.h"

#include "absl/strings/match.h"
#include "common/model/losses.h"

namespace fedlog::model {

torch::Tensor SupportLoss(const ParamMap& p, const EncoderSpec& spec, const EncoderInput& support,
                          const torch::Tensor& labels, int64_t classes, double scale, bool train) {
  torch::Tensor emb = EncoderForward(p, spec, support, train);
  return PrototypicalLoss(emb, labels, ClassPrototypes(emb, labels, classes), scale);
}

ParamMap InnerAdapt(const ParamMap& slow, const EncoderSpec& spec, const EncoderInput& support,
                    const torch::Tensor& labels, int64_t classes, const InnerLoopOptions& options,
                    bool train) {
  ParamMap fast = slow;
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, t] : slow) {
    if (absl::StartsWith(name, "head.")) continue;
    if (name == "embed.weight" && !options.adapt_embedding) continue;
    names.push_back(name);
  }
  for (int step = 0; step < options.steps; ++step) {
    tensors.clear();
    for (const std::string& name : names) tensors.push_back(fast[name]);
    torch::Tensor loss =
        SupportLoss(fast, spec, support, labels, classes, options.distance_scale, train);
    // allow_unused: adapters of other sources are not in this episode's graph.
    std::vector<torch::Tensor> grads = torch::autograd::grad(
        {loss}, tensors, /*grad_outputs=*/{}, /*retain_graph=*/!options.first_order,
        /*create_graph=*/!options.first_order, /*allow_unused=*/true);
    for (size_t i = 0; i < names.size(); ++i) {
      if (!grads[i].defined()) continue;
      torch::Tensor g = options.first_order ? grads[i].detach() : grads[i];
      fast[names[i]] = fast[names[i]] - options.lr * g;
    }
  }
  return fast;
}

torch::Tensor QueryLoss(const ParamMap& fast, const EncoderSpec& spec, const EncoderInput& support,
                        const torch::Tensor& support_labels, const EncoderInput& query,
                        const torch::Tensor& query_labels, int64_t classes, double scale,
                        bool hybrid, double margin) {
  torch::Tensor protos =
      ClassPrototypes(EncoderForward(fast, spec, support, true), support_labels, classes);
  torch::Tensor q = EncoderForward(fast, spec, query, true);
  torch::Tensor proto_loss = PrototypicalLoss(q, query_labels, protos, scale);
  if (!hybrid) return proto_loss;
  return 0.5 * (proto_loss + PrototypeTripletLoss(q, query_labels, protos, margin));
}

}  // namespace fedlog::model
