// Session-level detection (HDFS blocks, Hadoop applications): a session is a sequence of template
// ids. A small Transformer encoder reads it; two heads sit on top:
//   * a classifier (supervised: sessions labeled normal/anomalous), score = P(anomalous);
//   * next-event prediction (self-supervised, for sites without labels): trained on normal traffic;
//   a
//     session's score is the mean -log P of its observed events, and an event is a miss when it is
//     not among the top-g predictions (DeepLog's rule); a session with a miss is anomalous.
// Template ids in [0, num_templates) are kept; any other id maps to one shared "unknown" token.
// Torch-free interface. Thread-safety: reentrant; torch's intra-op thread count is process-wide.
#ifndef FEDLOG_COMMON_MODEL_SESSION_DETECTOR_H_
#define FEDLOG_COMMON_MODEL_SESSION_DETECTOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/model/encoder_types.h"

namespace fedlog::model {

struct SessionSpec {
  int num_templates = 512;  // known template ids; one more token stands for unknown ids
  int d_model = 64;
  int heads = 4;
  int layers = 2;
  int ff_dim = 128;
  int max_len = 64;  // classifier: first max_len events; next-event: windows of max_len
  float dropout = 0.1f;
  uint64_t init_seed = 1;
};

struct SessionTrainOptions {
  int epochs = 5;
  int batch_size = 32;
  float learning_rate = 1e-3f;
  RuntimeOptions runtime;
};

struct SessionTrainResult {
  fl::TensorBundle weights;
  double initial_loss = 0;  // mean loss of the first epoch
  double final_loss = 0;    // mean loss of the last epoch
  int64_t steps = 0;
  double seconds = 0;
  std::string device;
};

struct NextEventScore {
  double score = 0;    // mean -log P(observed event | prefix) over predicted events (0 when none)
  double max_nll = 0;  // largest single-event -log P
  int misses = 0;      // events outside the top-g predictions
  bool anomalous = false;  // misses > 0
};

// OK when sizes are positive and d_model is divisible by heads.
absl::Status ValidateSessionSpec(const SessionSpec& spec);

// Deterministic initial weights (both heads; depends on spec.init_seed only).
absl::StatusOr<fl::TensorBundle> InitialSessionWeights(const SessionSpec& spec);

// Supervised training of encoder + classifier. labels[i] in {0, 1} for sessions[i]; empty sessions
// rejected.
absl::StatusOr<SessionTrainResult> TrainSessionClassifier(
    const SessionSpec& spec, const fl::TensorBundle& start,
    const std::vector<std::vector<int64_t>>& sessions, const std::vector<int>& labels,
    const SessionTrainOptions& options);

// P(anomalous) per session from the classifier head.
absl::StatusOr<std::vector<float>> ScoreSessions(const SessionSpec& spec,
                                                 const fl::TensorBundle& weights,
                                                 const std::vector<std::vector<int64_t>>& sessions,
                                                 const RuntimeOptions& runtime);

// Self-supervised training of encoder + next-event head on (presumed normal) sessions.
absl::StatusOr<SessionTrainResult> TrainNextEvent(const SessionSpec& spec,
                                                  const fl::TensorBundle& start,
                                                  const std::vector<std::vector<int64_t>>& sessions,
                                                  const SessionTrainOptions& options);

// Next-event scores per session with the top-g rule (g >= 1).
absl::StatusOr<std::vector<NextEventScore>> ScoreNextEvent(
    const SessionSpec& spec, const fl::TensorBundle& weights,
    const std::vector<std::vector<int64_t>>& sessions, int top_g, const RuntimeOptions& runtime);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SESSION_DETECTOR_H_
