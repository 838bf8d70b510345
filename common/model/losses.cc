#include "common/model/losses.h"

#include <algorithm>

#include "common/model/token_jaccard.h"

namespace fedlog::model {

torch::Tensor SquaredEuclidean(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor aa = a.pow(2).sum(1, /*keepdim=*/true);
  torch::Tensor bb = b.pow(2).sum(1, /*keepdim=*/true).t();
  return (aa + bb - 2.0 * torch::matmul(a, b.t())).clamp_min(0.0);
}

torch::Tensor InfoNceLoss(const torch::Tensor& z, const torch::Tensor& positives,
                          double temperature) {
  const int64_t n = z.size(0);
  torch::Tensor eye = torch::eye(n, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  torch::Tensor logits = torch::matmul(z, z.t()) / temperature;
  // A line is never its own negative: mask the diagonal out of the softmax denominator.
  logits = logits.masked_fill(eye, -std::numeric_limits<float>::infinity());
  torch::Tensor log_prob = torch::log_softmax(logits, 1);
  torch::Tensor pos = positives.to(torch::kBool).logical_and(eye.logical_not()).to(z.dtype());
  torch::Tensor counts = pos.sum(1);
  torch::Tensor has_pos = counts > 0;
  if (!has_pos.any().item<bool>()) return torch::zeros({}, z.options());
  // masked_fill before multiplying: 0 * -inf on the diagonal would be NaN.
  torch::Tensor per_anchor = -(log_prob.masked_fill(eye, 0.0) * pos).sum(1) / counts.clamp_min(1.0);
  return per_anchor.masked_select(has_pos).mean();
}

namespace {

std::vector<int64_t> SortedUnique(const std::vector<int64_t>& tokens) {
  std::vector<int64_t> t(tokens);
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

// Two lines without tokens count as the same line here (TokenJaccard gives 0 for them).
double Jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return a.empty() && b.empty() ? 1.0 : TokenJaccard(a, b);
}

}  // namespace

torch::Tensor TokenJaccardMatrix(const std::vector<std::vector<int64_t>>& a,
                                 const std::vector<std::vector<int64_t>>& b,
                                 const torch::Device& device) {
  std::vector<std::vector<int64_t>> sa, sb;
  for (const auto& t : a) sa.push_back(SortedUnique(t));
  for (const auto& t : b) sb.push_back(SortedUnique(t));
  std::vector<float> values;
  values.reserve(sa.size() * sb.size());
  for (const auto& x : sa) {
    for (const auto& y : sb) values.push_back(static_cast<float>(Jaccard(x, y)));
  }
  return torch::tensor(values, torch::kFloat32)
      .reshape({static_cast<int64_t>(sa.size()), static_cast<int64_t>(sb.size())})
      .to(device);
}

torch::Tensor PairSimilarityLoss(const torch::Tensor& a, const torch::Tensor& b,
                                 const torch::Tensor& target) {
  return (torch::matmul(a, b.t()) - target.to(a.dtype())).pow(2).mean();
}

torch::Tensor ClassPrototypes(const torch::Tensor& emb, const torch::Tensor& labels,
                              int64_t classes) {
  torch::Tensor one_hot = torch::one_hot(labels, classes).to(emb.dtype());  // [n, classes]
  torch::Tensor sums = torch::matmul(one_hot.t(), emb);
  torch::Tensor counts = one_hot.sum(0).clamp_min(1.0).unsqueeze(1);
  return sums / counts;
}

torch::Tensor PrototypicalLoss(const torch::Tensor& queries, const torch::Tensor& labels,
                               const torch::Tensor& prototypes, double scale) {
  torch::Tensor logits = -scale * SquaredEuclidean(queries, prototypes);
  return torch::nn::functional::cross_entropy(logits, labels);
}

torch::Tensor PrototypeTripletLoss(const torch::Tensor& queries, const torch::Tensor& labels,
                                   const torch::Tensor& prototypes, double margin) {
  torch::Tensor d = SquaredEuclidean(queries, prototypes);
  torch::Tensor d_pos = d.gather(1, labels.unsqueeze(1)).squeeze(1);
  torch::Tensor own = torch::one_hot(labels, prototypes.size(0)).to(torch::kBool);
  torch::Tensor d_neg = d.masked_fill(own, std::numeric_limits<float>::infinity()).amin(1);
  return torch::relu(d_pos - d_neg + margin).mean();
}

torch::Tensor FocalLoss(const torch::Tensor& logits, const torch::Tensor& targets, double alpha,
                        double gamma) {
  torch::Tensor log_p = torch::log_softmax(logits, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
  torch::Tensor p = log_p.exp();
  torch::Tensor alpha_t =
      torch::where(targets > 0, torch::full_like(p, alpha), torch::full_like(p, 1.0 - alpha));
  return (-alpha_t * (1.0 - p).pow(gamma) * log_p).mean();
}

torch::Tensor ContrastivePositives(const LineSet& batch, bool template_alignment,
                                   const torch::Device& device) {
  const int64_t b = batch.size();
  torch::Tensor line = torch::arange(b, torch::kInt64).repeat({2});
  torch::Tensor pos = line.unsqueeze(0) == line.unsqueeze(1);
  if (template_alignment && !batch.template_ids.empty()) {
    torch::Tensor tid = torch::tensor(batch.template_ids, torch::kInt64).repeat({2});
    pos = pos.logical_or(tid.unsqueeze(0) == tid.unsqueeze(1));
  }
  return pos.to(device);
}

}  // namespace fedlog::model
