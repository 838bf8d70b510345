// Squared L2 norms of an update's parts, so that the norm of exactly what aggregation takes from an update can be
// composed without reading it again. A part is the set of tensors aggregation includes or leaves out together:
// "shared" (every tensor but adapters: shared tensors and prototypes.*, which every carrier contributes) and one
// part per adapter source (adapter.<source>.*, which count only while the site is entitled to <source>;
// WeightedAverager and the robust strategies leave the others out). The aggregator computes the parts while it
// checks an upload (UpdateChecker), stores them with the update (server/state_store.h, UpdateRecord::part_norms)
// and composes the norm of the entitled parts at aggregation (stream_aggregate.h); an update stored without them
// is read once more with PartNormSink. Both give the same bits: each tensor's sum of squares is
// SquaredSum's, whatever the chunking, and parts are added in a fixed order.
// Thread-compatible value types.
#ifndef FEDLOG_COMMON_FL_PART_NORMS_H_
#define FEDLOG_COMMON_FL_PART_NORMS_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"

namespace fedlog::fl {

// Sum of squares of a run of float32 values, as double, in eight interleaved sums (value k of the run goes to
// sum k mod 8: the additions pipeline instead of waiting on one running sum). The result depends only on the
// values and their order, not on how they were split across Add calls.
class SquaredSum {
 public:
  void Add(const float* values, size_t n);
  double Total() const;

 private:
  double lane_[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t count_ = 0;
};

struct PartNorms {
  double shared = 0;                       // every tensor that is not adapter.<source>.*
  std::map<std::string, double> adapters;  // <source> -> adapter.<source>.* (only sources the update carries)

  // Adds tensor `name`'s sum of squares to its part.
  void Add(const std::string& name, double squared);
  // Squared norm of what an update of a site entitled to `sources` contributes: shared, then the entitled
  // adapter parts in name order.
  double Included(const std::vector<std::string>& sources) const;
};

// Text form for the aggregator database: "shared=<hex float>" then ";<source>=<hex float>" per adapter part
// (%a: exact). DecodePartNorms is the inverse; InvalidArgument on anything else (a malformed entry, an invalid
// source name, a negative or non-finite value).
std::string EncodePartNorms(const PartNorms& parts);
absl::StatusOr<PartNorms> DecodePartNorms(const std::string& text);

// Computes the PartNorms of a bundle streamed through it (ReadBundleFileChunks).
class PartNormSink : public TensorSink {
 public:
  absl::Status BeginTensor(const std::string& name, const std::vector<int64_t>& shape) override;
  absl::Status TensorValues(const float* values, size_t n) override;
  absl::Status EndTensor() override;
  const PartNorms& parts() const { return parts_; }

 private:
  std::string name_;
  SquaredSum sum_;
  PartNorms parts_;
};

// PartNorms of a whole bundle (the in-memory path: AggregateDeltas).
PartNorms PartNormsOf(const TensorBundle& bundle);

}  // namespace fedlog::fl

#endif  // FEDLOG_COMMON_FL_PART_NORMS_H_
