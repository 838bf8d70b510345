// Augmented views of log lines for contrastive pre-training. Torch-free, so the data path stays
// testable and identical across CPU and CUDA builds. Thread-compatible: the caller owns the RNG.
#ifndef FEDLOG_COMMON_MODEL_AUGMENT_H_
#define FEDLOG_COMMON_MODEL_AUGMENT_H_

#include <cstdint>
#include <random>

#include "common/model/encoder_types.h"

namespace fedlog::model {

struct AugmentOptions {
  float token_dropout =
      0.1f;  // each token dropped with this probability (a non-empty line keeps one)
  float token_resample =
      0.05f;  // each kept token replaced by a random bucket: a re-sampled parameter value
  float dense_noise_std = 0.05f;  // Gaussian noise added to every dense feature
};

// One augmented view of `lines`; per-line metadata (sources, template ids, labels) is copied
// unchanged.
LineSet AugmentView(const LineSet& lines, const AugmentOptions& options, int64_t vocab_buckets,
                    std::mt19937_64& rng);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_AUGMENT_H_
