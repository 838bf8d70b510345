// A run's initial model from a file (e.g. `fedlog model pretrain`'s public pre-trained bundle), checked like
// any untrusted bundle before it becomes version 1 of a run or the start of `fedlog eval federated`: its shared
// tensors must be exactly those of the arch's initial weights (names and shapes), the only optional tensor it may
// carry is prototypes.global in the schema's shape (no adapters: a run's adapters enter with the sites' first
// updates), every value finite and at most kMaxInitialValue in magnitude, and the file no larger than the
// reference's float32 size plus kInitialModelSlackBytes. The aggregator (server/coordinator_admin.cc,
// RunPlan.initial_model) and `fedlog eval federated --initial-model` use it. Torch-free. Thread-safety: stateless
// functions.
#ifndef FEDLOG_COMMON_MODEL_INITIAL_MODEL_H_
#define FEDLOG_COMMON_MODEL_INITIAL_MODEL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fl/fedavg.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::model {

inline constexpr double kMaxInitialValue = 1e6;
inline constexpr int64_t kInitialModelSlackBytes = int64_t{1} << 20;

// OK when `candidate` fits the run whose untrained weights are `reference` and whose optional tensors have the
// shapes of `schema` (its out_dim / adapter_dim; `sources` is ignored): see the file comment. InvalidArgument
// saying which tensor is wrong and why.
absl::Status CheckInitialModel(const fl::TensorBundle& reference, const fl::UpdateCheckOptions& schema,
                               const fl::TensorBundle& candidate);

struct InitialModelFile {
  fl::TensorBundle weights;
  std::string sha256;  // lower-case hex digest of the file's bytes
};

// Reads the bundle file at `path` (any fl::EncodeBundle encoding) and checks it with CheckInitialModel. With a
// non-empty `sha256` (hex, any case) the file's digest must match it (DataLoss otherwise). NotFound for a
// missing file, InvalidArgument for one above the size limit.
absl::StatusOr<InitialModelFile> LoadInitialModel(const std::string& path, const std::string& sha256,
                                                  const fl::TensorBundle& reference,
                                                  const fl::UpdateCheckOptions& schema);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_INITIAL_MODEL_H_
