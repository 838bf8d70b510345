// Supervised comparison baseline: the line encoder plus a linear classifier trained with focal loss
// (alpha 0.25, gamma 2 by default) on whatever labels a site has. Torch-free interface.
// Thread-safety: reentrant, but torch's intra-op thread count is process-wide
// (RuntimeOptions::threads).
#ifndef FEDLOG_COMMON_MODEL_FOCAL_BASELINE_H_
#define FEDLOG_COMMON_MODEL_FOCAL_BASELINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

struct FocalOptions {
  int steps = 200;
  int batch_size = 128;
  float learning_rate = 1e-3f;
  float alpha = 0.25f;  // weight of anomalous targets; normal ones get 1 - alpha
  float gamma = 2.0f;
  int num_classes = 2;  // labels must lie in [0, num_classes)
  RuntimeOptions runtime;
};

struct FocalResult {
  fl::TensorBundle
      weights;  // the encoder's tensors plus classifier.weight [classes, out_dim], classifier.bias
  double initial_loss = 0;  // first step
  double final_loss = 0;    // mean over the last min(10, steps) steps
  double seconds = 0;
  std::string device;
};

// Trains encoder + classifier from `start` (an encoder bundle; a classifier is initialised from the
// seed).
absl::StatusOr<FocalResult> TrainFocalBaseline(const EncoderSpec& spec,
                                               const fl::TensorBundle& start, const LineSet& lines,
                                               const FocalOptions& options);

// P(anomalous) = 1 - P(class 0) per line, from a FocalResult::weights bundle.
absl::StatusOr<std::vector<float>> ScoreFocalBaseline(const EncoderSpec& spec,
                                                      const fl::TensorBundle& weights,
                                                      const LineSet& lines,
                                                      const RuntimeOptions& runtime);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_FOCAL_BASELINE_H_
