// Update validation and weighted federated averaging of model deltas (FedAvg, McMahan et al. 2017): the new
// global model is global + sum_i w_i * delta_i / sum_i w_i, with w_i = the site's sample count (or a strategy's
// blend). Shared tensors are averaged over every update; each optional tensor (adapter.* / prototypes.*, see
// tensor_bundle.h) only over the updates that carry it, with their weights renormalised.
//
// Memory: the averager holds one float32 accumulator per tensor (the model's size) and adds each update in place,
// tensor by tensor or chunk by chunk, so a caller can stream an update from disk (ReadBundleFileChunks) without
// holding any of its tensors whole.
// Thread-compatible: one averager per round, used from one thread.
#ifndef FEDLOG_COMMON_FL_FEDAVG_H_
#define FEDLOG_COMMON_FL_FEDAVG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fl/part_norms.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

struct UpdateCheckOptions {
  double max_norm = 0;  // refuse deltas whose L2 norm (over every tensor) exceeds this; 0 = no bound
  // Sources the uploading site reported (Hello): adapter.<source>.* tensors of any other source are refused.
  std::vector<std::string> sources;
  // Shape of the line encoder's optional tensors, for those the global model lacks (adapter.<s>.down.weight
  // [adapter_dim, out_dim], .down.bias [adapter_dim], .up.weight [out_dim, adapter_dim], .up.bias [out_dim],
  // adapter.<s>.prototypes and prototypes.<x> [2, out_dim]). 0: unknown, and then only optional tensors the
  // global model already has are accepted (with its shapes).
  int64_t out_dim = 0;
  int64_t adapter_dim = 0;
};

// The model schema's optional part (docs/SECURITY-aggregation.md): the only optional tensors a line_encoder run
// may contain are prototypes.global and adapter.<source>.{down,up}.{weight,bias} / adapter.<source>.prototypes
// for a valid source name, in the shapes above, and prototypes.release [2, out_dim + 1] (line DP's noised class
// sums and counts, common/privacy/class_sums.h). ExpectedOptionalShape returns the shape such a tensor must have,
// or InvalidArgument for any other name (e.g. "prototypes.evil") or when the shapes are unknown.
inline constexpr char kGlobalPrototypesName[] = "prototypes.global";
inline constexpr char kReleasedPrototypesName[] = "prototypes.release";
inline constexpr size_t kMaxSourceNameLength = 64;
absl::StatusOr<std::vector<int64_t>> ExpectedOptionalShape(const std::string& name,
                                                           const UpdateCheckOptions& options);
// A source type name usable inside tensor names: 1..64 of [A-Za-z0-9_-] (no '.', which separates name parts).
bool IsValidSourceName(const std::string& name);
// Whether optional tensor `t` is in the schema (known name, expected shape, values matching it).
bool InOptionalSchema(const NamedTensor& t, const UpdateCheckOptions& options);
// Removes the optional tensors of `bundle` that are not in the schema (only out_dim / adapter_dim of `options`
// are used) and returns their names: a site ignores what it does not know instead of failing on it.
std::vector<std::string> DropUnknownOptional(TensorBundle* bundle, const UpdateCheckOptions& options);

// Validates an untrusted delta tensor by tensor, so it can be streamed: shared tensors must match the global
// layout exactly (names, shapes) and all be present; optional tensors must be allowed (see UpdateCheckOptions);
// every value must be finite; the norm bound applies to the whole delta. Each error says why, for the site's
// refusal message and the logs. As a TensorSink it checks a tensor whose values arrive in chunks
// (ReadBundleFileChunks) with the same results, the norm included bit for bit.
class UpdateChecker : public TensorSink {
 public:
  UpdateChecker(const BundleLayout& global, UpdateCheckOptions options);

  absl::Status Check(const NamedTensor& tensor);
  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override;
  absl::Status TensorValues(const float* values, size_t n) override;
  absl::Status EndTensor() override;
  // After the last tensor: every shared tensor seen, norm within the bound.
  absl::Status Finish();
  double squared_norm() const { return squared_norm_; }
  // The same sums by part (part_norms.h), bit for bit what PartNormSink gives for the same bundle: what the
  // aggregator stores with an accepted update so that clipping need not read it again.
  const PartNorms& part_norms() const { return parts_; }

 private:
  std::map<std::string, std::vector<int64_t>> global_;  // name -> shape (a copy: the layout may be temporary)
  const UpdateCheckOptions options_;
  std::map<std::string, bool> seen_;
  int shared_seen_ = 0;
  int shared_total_ = 0;
  double squared_norm_ = 0;
  PartNorms parts_;
  // The tensor being checked.
  std::string name_;
  size_t expected_ = 0;
  size_t got_ = 0;
  SquaredSum tensor_sq_;
};

// UpdateChecker over a whole bundle.
absl::Status CheckUpdate(const TensorBundle& global, const TensorBundle& delta,
                         const UpdateCheckOptions& options = {});

class WeightedAverager : public TensorSink {
 public:
  // `layout` gives the tensor names and shapes of the global model (its values are ignored).
  explicit WeightedAverager(const TensorBundle& layout);
  explicit WeightedAverager(const BundleLayout& layout);

  // Adds a whole `delta` (checked first, nothing is added when it does not fit) with `weight` > 0, each value
  // multiplied by `scale` (a clipping factor; the weight is not). Shared tensors take every update; an optional
  // tensor takes this update when it carries it, except adapter.<source>.* when `sources` lacks <source>.
  // Optional tensors the layout lacks are created (their delta is the full value).
  absl::Status Add(const TensorBundle& delta, double weight, const std::vector<std::string>& sources = {},
                   double scale = 1.0);

  // The same, streaming: BeginUpdate, AddTensor per tensor (any order), EndUpdate. After an error inside an
  // update the averager is poisoned: every later call fails (part of the update may have been added).
  absl::Status BeginUpdate(double weight, const std::vector<std::string>& sources = {}, double scale = 1.0);
  absl::Status AddTensor(const NamedTensor& tensor);
  absl::Status EndUpdate();
  // AddTensor with the values in chunks (ReadBundleFileChunks decodes an update file straight into the
  // accumulator): the same sums bit for bit, without a tensor-sized buffer. An error poisons as above.
  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override;
  absl::Status TensorValues(const float* values, size_t n) override;
  absl::Status EndTensor() override;

  int count() const { return count_; }
  double total_weight() const { return total_weight_; }

  // The weighted mean of the added deltas, per tensor over the updates that contributed to it (zero for a
  // tensor nobody contributed to): the global layout's tensors in order, then new optional tensors in the order
  // they first arrived; a new optional tensor no update contributed to (e.g. an adapter of a source no
  // contributor is admitted for) is left out. FailedPrecondition when nothing was added. Mean() copies; TakeMean() turns the
  // accumulator into the mean in place and leaves the averager empty (no second model-sized buffer).
  absl::StatusOr<TensorBundle> Mean() const;
  absl::StatusOr<TensorBundle> TakeMean();

 private:
  struct Slot {
    NamedTensor sum;         // float32 accumulator, in place
    double weight = 0;       // weight that reached this tensor
    std::string source;      // adapter source, "" otherwise
    bool optional = false;
    bool seen = false;       // in the current update
    bool in_base = false;    // in the layout the averager was made with
  };
  Slot* Find(const std::string& name);
  absl::Status Poison(absl::Status why);

  std::vector<Slot> slots_;
  std::map<std::string, size_t> index_;
  size_t shared_count_ = 0;
  // Current update.
  bool open_ = false;
  bool poisoned_ = false;
  double weight_ = 0;
  float factor_ = 0;
  std::vector<std::string> sources_;
  // Current tensor: its slot (an index: slots_ may grow), whether it takes this update, values added so far.
  size_t slot_ = 0;
  bool in_tensor_ = false;
  bool adding_ = false;
  size_t filled_ = 0;
  double total_weight_ = 0;
  int count_ = 0;
};

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_FEDAVG_H_
