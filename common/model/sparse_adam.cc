#include "common/model/sparse_adam.h"

#include <cmath>

namespace fedlog::model {

SparseRowAdam::SparseRowAdam(torch::Tensor param, double lr, double beta1, double beta2, double eps)
    : param_(std::move(param)), lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps) {
  exp_avg_ = torch::zeros_like(param_, torch::MemoryFormat::Contiguous);
  exp_avg_sq_ = torch::zeros_like(param_, torch::MemoryFormat::Contiguous);
}

void SparseRowAdam::Step() {
  torch::NoGradGuard no_grad;
  torch::Tensor grad = param_.grad();
  if (!grad.defined()) return;
  torch::Tensor rows, values;
  if (grad.is_sparse()) {
    grad = grad.coalesce();  // duplicate rows (a token in several lines) summed once
    rows = grad.indices()[0];
    values = grad.values();
  } else {
    rows = grad.abs().sum(1).nonzero().squeeze(1);
    values = grad.index_select(0, rows);
  }
  ++step_;
  torch::Tensor m = exp_avg_.index_select(0, rows).mul_(beta1_).add_(values, 1 - beta1_);
  torch::Tensor v =
      exp_avg_sq_.index_select(0, rows).mul_(beta2_).addcmul_(values, values, 1 - beta2_);
  exp_avg_.index_copy_(0, rows, m);
  exp_avg_sq_.index_copy_(0, rows, v);
  const double bias1 = 1 - std::pow(beta1_, static_cast<double>(step_));
  const double bias2 = 1 - std::pow(beta2_, static_cast<double>(step_));
  torch::Tensor denom = (v / bias2).sqrt_().add_(eps_);
  param_.index_add_(0, rows, m.div(denom).mul_(-lr_ / bias1));
  param_.mutable_grad() = torch::Tensor();
}

}  // namespace fedlog::model
