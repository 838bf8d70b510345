#include "common/fl/stream_aggregate.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_stream.h"
#include "common/fl/fedavg.h"

namespace fedlog::fl {
namespace {

// L2 norm of what `file` contributes: from its stored part norms, or else from one decoding pass.
absl::StatusOr<double> ContributedNorm(const UpdateFile& file) {
  if (file.part_norms) return std::sqrt(file.part_norms->Included(file.stats.sources));
  PartNormSink sink;
  FEDLOG_RETURN_IF_ERROR(ReadBundleFileChunks(file.path, {file.sha256}, &sink));
  return std::sqrt(sink.parts().Included(file.stats.sources));
}

bool Clips(const StrategyOptions& strategy) { return strategy.clip_norm > 0 || strategy.adaptive_clip_multiple > 0; }

absl::StatusOr<TensorBundle> Average(const BundleLayout& global,
                                     const std::vector<UpdateFile>& updates,
                                     const std::vector<double>& weights,
                                     const StrategyOptions& strategy, ClipDecision* clip) {
  // Norms first when a bound may apply (stored ones, or a pass over a file stored without them); otherwise the
  // decision from zero norms is all ones and says nothing was clipped.
  std::vector<double> norms(updates.size(), 0.0);
  if (Clips(strategy)) {
    for (size_t i = 0; i < updates.size(); ++i) {
      FEDLOG_ASSIGN_OR_RETURN(norms[i], ContributedNorm(updates[i]));
    }
  }
  FEDLOG_ASSIGN_OR_RETURN(*clip, DecideClipping(norms, strategy.clip_norm, strategy.adaptive_clip_multiple,
                                                strategy.carried_reference));
  WeightedAverager averager(global);
  for (size_t i = 0; i < updates.size(); ++i) {
    FEDLOG_RETURN_IF_ERROR(averager.BeginUpdate(weights[i], updates[i].stats.sources, clip->scales[i]));
    // Decoded chunk by chunk straight into the accumulator: no tensor-sized buffer.
    FEDLOG_RETURN_IF_ERROR(ReadBundleFileChunks(updates[i].path, {updates[i].sha256}, &averager));
    FEDLOG_RETURN_IF_ERROR(averager.EndUpdate());
  }
  return averager.TakeMean();
}

// One update unpacked to raw float32 values; the file is removed with the object.
struct Unpacked {
  std::string path;
  int fd = -1;
  std::map<std::string, std::pair<int64_t, int64_t>> index;  // name -> (first value, count)
  float scale = 1;
  double norm = 0;  // L2 norm of what the update contributes (its entitled parts)
  std::vector<std::string> sources;

  Unpacked() = default;
  Unpacked(const Unpacked&) = delete;
  ~Unpacked() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// Writes an update's values, chunk by chunk, to its raw scratch file and extends `layout` with optional tensors
// new to it.
class UnpackSink : public TensorSink {
 public:
  UnpackSink(const std::string& site, BundleLayout* layout, Unpacked* out)
      : site_(site), layout_(layout), out_(out) {}

  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override {
    auto it = std::find_if(layout_->begin(), layout_->end(), [&](const TensorShape& s) { return s.name == name; });
    if (it == layout_->end()) {
      if (!IsOptionalTensor(name)) {
        return absl::InvalidArgumentError(absl::StrCat("update of ", site_, " has unexpected '", name, "'"));
      }
      layout_->push_back({name, shape});
    } else if (it->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat("update of ", site_, " does not match '", name, "'"));
    } else if (!IsOptionalTensor(name)) {
      ++shared;
    }
    const int64_t count = NumElementsOf(shape);
    out_->index[name] = {next_, count};
    next_ += count;
    name_ = name;
    sum_ = SquaredSum();
    return absl::OkStatus();
  }
  absl::Status TensorValues(const float* values, size_t n) override {
    const size_t bytes = n * sizeof(float);
    if (::pwrite(out_->fd, values, bytes, at_ * 4) != static_cast<ssize_t>(bytes)) {
      return absl::InternalError(absl::StrCat("cannot write ", out_->path));
    }
    at_ += static_cast<int64_t>(n);
    sum_.Add(values, n);
    return absl::OkStatus();
  }
  absl::Status EndTensor() override {
    parts.Add(name_, sum_.Total());
    return absl::OkStatus();
  }

  size_t shared = 0;
  PartNorms parts;  // computed from the values unpacked (the same bits as stored ones: part_norms.h)

 private:
  const std::string& site_;
  BundleLayout* layout_;
  Unpacked* out_;
  int64_t next_ = 0;  // first value of the next tensor
  int64_t at_ = 0;    // where the next chunk goes
  std::string name_;  // the tensor being unpacked
  SquaredSum sum_;
};

// Unpacks `file` into `out` and extends `layout` with optional tensors new to it.
absl::Status Unpack(const UpdateFile& file, const std::string& scratch_dir, size_t shared_total, BundleLayout* layout, Unpacked* out) {
  static std::atomic<uint64_t> counter{0};
  out->path = absl::StrCat(scratch_dir, "/robust.", ::getpid(), ".", counter++, ".f32");
  out->fd = ::open(out->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out->fd < 0) return absl::InternalError(absl::StrCat("cannot create ", out->path));
  out->sources = file.stats.sources;
  UnpackSink sink(file.site, layout, out);
  FEDLOG_RETURN_IF_ERROR(ReadBundleFileChunks(file.path, {file.sha256}, &sink));
  if (sink.shared != shared_total) {
    return absl::InvalidArgumentError(
        absl::StrCat("update of ", file.site, " lacks shared tensors"));
  }
  out->norm = std::sqrt(sink.parts.Included(file.stats.sources));
  return absl::OkStatus();
}

absl::Status CombineTensor(const std::vector<std::unique_ptr<Unpacked>>& parts,
                           const StrategyOptions& strategy, int64_t block_bytes, NamedTensor* out,
                           bool* contributed) {
  const std::string source = AdapterSource(out->name);
  std::vector<const Unpacked*> members;
  for (const auto& p : parts) {
    if (!p->index.count(out->name)) continue;
    if (!source.empty() &&
        std::find(p->sources.begin(), p->sources.end(), source) == p->sources.end())
      continue;
    members.push_back(p.get());
  }
  *contributed = !members.empty();
  if (members.empty()) return absl::OkStatus();
  const size_t n = out->values.size();
  const size_t block =
      std::max<size_t>(1024, static_cast<size_t>(block_bytes) / sizeof(float) / members.size());
  std::vector<std::vector<float>> buffers(members.size(), std::vector<float>(std::min(block, n)));
  std::vector<const float*> columns(members.size());
  std::vector<float> scales(members.size());
  for (size_t m = 0; m < members.size(); ++m) {
    columns[m] = buffers[m].data();
    scales[m] = members[m]->scale;
  }
  for (size_t off = 0; off < n; off += block) {
    const size_t len = std::min(block, n - off);
    for (size_t m = 0; m < members.size(); ++m) {
      const int64_t first = members[m]->index.at(out->name).first + static_cast<int64_t>(off);
      const ssize_t want = static_cast<ssize_t>(len * sizeof(float));
      if (::pread(members[m]->fd, buffers[m].data(), static_cast<size_t>(want), first * 4) !=
          want) {
        return absl::InternalError(absl::StrCat("cannot read back ", members[m]->path));
      }
    }
    RobustCombine(columns, scales, len, strategy.kind, strategy.trim_fraction,
                  out->values.data() + off);
  }
  return absl::OkStatus();
}

absl::StatusOr<TensorBundle> Robust(const BundleLayout& global,
                                    const std::vector<UpdateFile>& updates,
                                    const StrategyOptions& strategy,
                                    const StreamAggregateOptions& options, ClipDecision* clip) {
  if (options.scratch_dir.empty())
    return absl::InvalidArgumentError("robust aggregation needs a scratch_dir");
  BundleLayout layout = global;
  size_t shared_total = 0;
  for (const auto& t : global) shared_total += IsOptionalTensor(t.name) ? 0 : 1;
  std::vector<std::unique_ptr<Unpacked>> parts;
  for (const auto& u : updates) {
    parts.push_back(std::make_unique<Unpacked>());
    FEDLOG_RETURN_IF_ERROR(Unpack(u, options.scratch_dir, shared_total, &layout, parts.back().get()));
  }
  std::vector<double> norms;
  for (const auto& p : parts) norms.push_back(Clips(strategy) ? p->norm : 0.0);
  FEDLOG_ASSIGN_OR_RETURN(*clip, DecideClipping(norms, strategy.clip_norm, strategy.adaptive_clip_multiple,
                                                strategy.carried_reference));
  for (size_t i = 0; i < parts.size(); ++i) parts[i]->scale = static_cast<float>(clip->scales[i]);
  TensorBundle out;
  out.tensors.reserve(layout.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    const TensorShape& t = layout[i];
    NamedTensor r{t.name, t.shape, {}};
    r.values.assign(static_cast<size_t>(r.NumElements()), 0.0f);
    bool contributed = false;
    FEDLOG_RETURN_IF_ERROR(CombineTensor(parts, strategy, options.block_bytes, &r, &contributed));
    // As in WeightedAverager::TakeMean: a tensor new to the model that nobody may contribute to stays out.
    if (i >= global.size() && !contributed) continue;
    out.tensors.push_back(std::move(r));
  }
  return out;
}

}  // namespace

absl::StatusOr<TensorBundle> AggregateUpdateFiles(const BundleLayout& global,
                                                  const std::vector<UpdateFile>& updates,
                                                  const StrategyOptions& strategy,
                                                  const StreamAggregateOptions& options,
                                                  ClipDecision* clip) {
  ClipDecision ignored;
  if (clip == nullptr) clip = &ignored;
  if (updates.empty()) return absl::FailedPreconditionError("no updates to aggregate");
  if (strategy.trim_fraction < 0 || strategy.trim_fraction >= 0.5) {
    return absl::InvalidArgumentError("trim_fraction must be in [0, 0.5)");
  }
  std::vector<UpdateStats> stats;
  for (const auto& u : updates) stats.push_back(u.stats);
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> weights, ComputeWeights(stats, strategy));
  if (strategy.kind == StrategyKind::kFedAvg || strategy.kind == StrategyKind::kWeightedFedAvg) {
    return Average(global, updates, weights, strategy, clip);
  }
  return Robust(global, updates, strategy, options, clip);
}

}  // namespace fedlog::fl
