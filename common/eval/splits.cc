#include "common/eval/splits.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fedlog::eval {
namespace {

// Fisher-Yates with a platform-independent index draw (the modulo bias is below 2^-40 for any real
// n).
void Shuffle(std::vector<size_t>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

// Sample indices grouped by label, each group ascending; std::map keeps the class order fixed.
std::map<int, std::vector<size_t>> GroupByLabel(absl::Span<const int> labels) {
  std::map<int, std::vector<size_t>> groups;
  for (size_t i = 0; i < labels.size(); ++i) groups[labels[i]].push_back(i);
  return groups;
}

}  // namespace

absl::StatusOr<TrainTestSplit> StratifiedSplit(absl::Span<const int> labels, double test_fraction,
                                               uint64_t seed) {
  if (!(test_fraction > 0 && test_fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("test_fraction must be in (0, 1), got ", test_fraction));
  }
  if (labels.empty()) return absl::InvalidArgumentError("no samples to split");
  std::mt19937_64 rng(seed);
  TrainTestSplit split;
  for (auto& [label, members] : GroupByLabel(labels)) {
    const size_t n = members.size();
    size_t n_test = static_cast<size_t>(std::llround(test_fraction * static_cast<double>(n)));
    if (n >= 2) n_test = std::clamp<size_t>(n_test, 1, n - 1);
    Shuffle(members, rng);
    split.test.insert(split.test.end(), members.begin(), members.begin() + n_test);
    split.train.insert(split.train.end(), members.begin() + n_test, members.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

absl::StatusOr<std::vector<SourceFold>> LeaveOneSourceOut(
    absl::Span<const std::string> sample_sources) {
  std::map<std::string, std::vector<size_t>> by_source;
  for (size_t i = 0; i < sample_sources.size(); ++i) by_source[sample_sources[i]].push_back(i);
  if (by_source.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("leave-one-source-out needs at least two sources, got ", by_source.size()));
  }
  std::vector<SourceFold> folds;
  for (const auto& [source, members] : by_source) {
    SourceFold fold;
    fold.held_out = source;
    fold.test = members;
    for (size_t i = 0; i < sample_sources.size(); ++i) {
      if (sample_sources[i] != source) fold.train.push_back(i);
    }
    folds.push_back(std::move(fold));
  }
  return folds;
}

absl::StatusOr<KShotSplit> SampleKShot(absl::Span<const int> labels, int k, uint64_t seed) {
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("k must be >= 1, got ", k));
  if (labels.empty()) return absl::InvalidArgumentError("no samples to draw from");
  std::map<int, std::vector<size_t>> groups = GroupByLabel(labels);
  for (const auto& [label, members] : groups) {
    if (members.size() < static_cast<size_t>(k)) {
      return absl::FailedPreconditionError(
          absl::StrCat("class ", label, " has ", members.size(), " samples, fewer than k = ", k));
    }
  }
  std::mt19937_64 rng(seed);
  KShotSplit split;
  for (auto& [label, members] : groups) {
    Shuffle(members, rng);
    split.support.insert(split.support.end(), members.begin(), members.begin() + k);
    split.query.insert(split.query.end(), members.begin() + k, members.end());
  }
  std::sort(split.support.begin(), split.support.end());
  std::sort(split.query.begin(), split.query.end());
  return split;
}

}  // namespace fedlog::eval
