// Adam for the encoder's hashed embedding table, updating only the rows a step touched ("lazy"
// Adam, as torch.optim.SparseAdam). A batch touches a few hundred of 2^15 rows; dense Adam would
// read and write the whole table and allocate table-sized temporaries on every step, which
// dominates a training step on CPU. Internal to common/model: includes torch. Thread-compatible.
#ifndef FEDLOG_COMMON_MODEL_SPARSE_ADAM_H_
#define FEDLOG_COMMON_MODEL_SPARSE_ADAM_H_

#include <torch/torch.h>

#include <cstdint>

namespace fedlog::model {

class SparseRowAdam {
 public:
  // `param` is updated in place; it must be a leaf with requires_grad. Moments live on its device.
  SparseRowAdam(torch::Tensor param, double lr, double beta1 = 0.9, double beta2 = 0.999,
                double eps = 1e-8);

  // Applies the accumulated gradient (sparse, or dense: then rows with a non-zero gradient count as
  // touched) and clears it, so the next backward starts a fresh sparse gradient. No-op without a
  // gradient.
  void Step();

 private:
  torch::Tensor param_;
  torch::Tensor exp_avg_;
  torch::Tensor exp_avg_sq_;
  double lr_, beta1_, beta2_, eps_;
  int64_t step_ = 0;
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SPARSE_ADAM_H_
