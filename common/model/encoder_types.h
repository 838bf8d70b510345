// Public, torch-free types shared by the learning core (contrastive pre-training, meta-learning,
// few-shot adaptation): the encoder's shape, a set of featurised log lines, and the run-time knobs
// every trainer takes. Callers (site daemon, tools, benchmarks) fill these with their own data; no
// torch type crosses this header. Thread-compatible value types.
#ifndef FEDLOG_COMMON_MODEL_ENCODER_TYPES_H_
#define FEDLOG_COMMON_MODEL_ENCODER_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/base/dense_matrix.h"

namespace fedlog::model {

// Shape of the line encoder: EmbeddingBag(mean) over hashed token ids, concatenated with dense
// features,
// -> MLP (Linear, LayerNorm, ReLU, dropout per hidden layer) -> Linear to out_dim -> per-source
// residual adapter -> L2 normalisation. The parameter names are listed in docs/MODEL.md and are
// part of the federation protocol: aggregators match adapters by the `adapter.<source>.` prefix.
struct EncoderSpec {
  int64_t vocab_buckets = 1 << 15;  // token ids are taken modulo this (hashing trick)
  int token_dim = 64;               // EmbeddingBag width
  int dense_dim = 0;                // width of the dense feature vector (0: tokens only)
  std::vector<int> hidden = {256};  // MLP hidden widths
  int out_dim = 128;                // embedding width
  float dropout = 0.1f;
  int adapter_dim = 32;              // bottleneck width of each source adapter
  std::vector<std::string> sources;  // one adapter per entry; names match [A-Za-z0-9_-]+
  int head_dim = 128;                // contrastive projection head width (head.* parameters)
  uint64_t init_seed = 1;
};

// OK when every size is positive (dense_dim may be 0) and source names are unique and well formed.
absl::Status ValidateEncoderSpec(const EncoderSpec& spec);

// Featurised log lines. Row i of every per-line field describes the same line.
struct LineSet {
  std::vector<std::vector<int64_t>>
      tokens;         // hashed semantic token ids per line (may be empty per line)
  DenseMatrix dense;  // rows == lines, cols == spec.dense_dim (empty when dense_dim 0)
  std::vector<std::string>
      sources;  // per line: adapter to apply ("" or absent: none); may be empty
  std::vector<int64_t>
      template_ids;         // per line, optional: Drain template id (contrastive alignment)
  std::vector<int> labels;  // per line, optional: 0 normal, >= 1 anomaly type

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
};

// OK when the per-line fields agree in length with `tokens` (optional ones may be empty), dense has
// spec.dense_dim columns and every named source has an adapter in `spec`.
absl::Status ValidateLineSet(const EncoderSpec& spec, const LineSet& lines);

// Lines `rows` of `lines`, in that order (every per-line field follows).
LineSet SelectLines(const LineSet& lines, const std::vector<int64_t>& rows);

// True when `labels` holds a normal (0) and an anomalous (> 0) label; -1 (unlabeled) is neither.
bool HasBothClasses(const std::vector<int>& labels);

// Where and how torch runs. torch's intra-op pool is process-wide, so `threads` affects concurrent
// callers.
struct RuntimeOptions {
  std::string device =
      "cpu";          // "cpu", "cuda", "cuda:N" or "auto" (see ResolveDevice in local_trainer.h)
  int threads = 1;    // torch intra-op threads, set at the start of each call; <= 0 leaves it alone
  uint64_t seed = 1;  // torch::manual_seed and every shuffle/augmentation RNG
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_ENCODER_TYPES_H_
