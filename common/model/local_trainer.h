// Local training and scoring for the site daemon and the aggregator, behind a torch-free interface: callers
// pass feature rows (DenseMatrix) and weights (fl::TensorBundle); LibTorch stays inside common/model.
//
// The model of the foundation is an MLP autoencoder over a line's feature vector; its reconstruction error is
// the anomaly score. It is trained without labels, so every site can take part whatever its labels.
// Thread-safety: functions are reentrant but torch's intra-op pool is process-wide (SetTorchThreads).
#ifndef FEDLOG_COMMON_MODEL_LOCAL_TRAINER_H_
#define FEDLOG_COMMON_MODEL_LOCAL_TRAINER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/dense_matrix.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::model {

struct MlpSpec {
  int input_dim = 0;
  std::vector<int> hidden = {64, 16};  // encoder widths; the decoder mirrors them
  uint64_t init_seed = 1;
};

struct TrainOptions {
  int epochs = 1;
  float learning_rate = 1e-3f;
  int batch_size = 64;
  uint64_t seed = 1;              // shuffling; same seed + same data + same device = same result
  std::string device = "cpu";     // "cpu", "cuda", "cuda:N" or "auto"
};

struct TrainResult {
  fl::TensorBundle weights;       // after training
  double initial_loss = 0;        // mean reconstruction loss before the first step
  double final_loss = 0;          // mean loss over the last epoch
  int64_t samples = 0;
  int64_t steps = 0;
  double seconds = 0;
  std::string device;             // the device actually used
};

// Sets torch's intra-op thread count (Debian's LibTorch defaults to 1). n <= 0 leaves it unchanged.
void SetTorchThreads(int n);

// "auto" -> "cuda" when a CUDA device is present, else "cpu". InvalidArgument for unknown names,
// Unavailable for cuda without a CUDA build or device.
absl::StatusOr<std::string> ResolveDevice(const std::string& requested);

// Deterministic initial weights for `spec` (depends on init_seed only).
absl::StatusOr<fl::TensorBundle> InitialWeights(const MlpSpec& spec);

// Trains from `start` on the rows of `x` (x.cols must equal spec.input_dim).
absl::StatusOr<TrainResult> Train(const MlpSpec& spec, const fl::TensorBundle& start, const DenseMatrix& x,
                                  const TrainOptions& options);

// Per-row anomaly score: mean squared reconstruction error.
absl::StatusOr<std::vector<float>> Score(const MlpSpec& spec, const fl::TensorBundle& weights,
                                         const DenseMatrix& x, const std::string& device = "cpu");

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_LOCAL_TRAINER_H_
