// Data splits for the evaluation protocols: seeded stratified train/test split,
// leave-one-source-out folds and k-shot support/query sampling. Splits return indices into the
// caller's sample arrays, never copies. Every shuffle uses std::mt19937_64 with our own
// Fisher-Yates (not std::shuffle, whose algorithm differs between standard libraries), so a seed
// gives the same split on every platform. Thread-safety: pure functions, safe to call concurrently.
#ifndef FEDLOG_COMMON_EVAL_SPLITS_H_
#define FEDLOG_COMMON_EVAL_SPLITS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedlog::eval {

struct TrainTestSplit {
  std::vector<size_t> train;  // ascending
  std::vector<size_t> test;   // ascending
};

// Splits each class separately: a class with n samples sends round(test_fraction * n) of them,
// chosen at random, to test. When n >= 2 and 0 < test_fraction < 1 both sides get at least one
// sample of the class, so a rare anomaly class is never missing from either side. Labels may be any
// ints (multi-class is fine). InvalidArgument when test_fraction is outside (0, 1) or labels is
// empty.
absl::StatusOr<TrainTestSplit> StratifiedSplit(absl::Span<const int> labels, double test_fraction,
                                               uint64_t seed);

struct SourceFold {
  std::string held_out;       // the test source
  std::vector<size_t> train;  // samples of every other source, ascending
  std::vector<size_t> test;   // samples of the held-out source, ascending
};

// One fold per distinct source, in lexicographic order of the source names; sample_sources[i] names
// the source of sample i. InvalidArgument with fewer than two distinct sources.
absl::StatusOr<std::vector<SourceFold>> LeaveOneSourceOut(
    absl::Span<const std::string> sample_sources);

struct KShotSplit {
  std::vector<size_t> support;  // k samples of every class, ascending
  std::vector<size_t> query;    // all remaining samples, ascending
};

// Draws k labelled examples per class (every distinct label) for adaptation; the rest form the
// query set used for testing. FailedPrecondition when a class has fewer than k samples (the message
// names it); InvalidArgument when k < 1 or labels is empty.
absl::StatusOr<KShotSplit> SampleKShot(absl::Span<const int> labels, int k, uint64_t seed);

}  // namespace fedlog::eval

#endif  // FEDLOG_COMMON_EVAL_SPLITS_H_
