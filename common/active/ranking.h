// Pieces shared by the line selector (selector.cc) and the session selector (session_selector.cc): a fixed
// SplitMix64 mix for tie-breaks (absl::Hash is seeded per process, so it would not rank alike from run to
// run), the median of a few scores, and the cut of a ranked list to the picks asked for. Header-only,
// internal to fedlog_active.
#ifndef FEDLOG_COMMON_ACTIVE_RANKING_H_
#define FEDLOG_COMMON_ACTIVE_RANKING_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/base/mix64.h"

namespace fedlog::active::ranking {

// SplitMix64's finaliser (common/base/mix64.h).
inline uint64_t Mix(uint64_t x) { return SplitMix64(x); }

// A tie-break key for `key` under `seed`: equal inputs give equal keys in every process.
inline uint64_t TieBreak(uint64_t seed, uint64_t key) { return Mix(Mix(seed) ^ key); }

// The upper median of `v` (0 when empty).
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  return v[mid];
}

// The picks of an already sorted (tie-break key, pick) list, at most `max_picks` of them (0: all).
template <typename Pick>
std::vector<Pick> TakeRanked(std::vector<std::pair<uint64_t, Pick>> ranked, size_t max_picks) {
  if (max_picks > 0 && ranked.size() > max_picks) ranked.resize(max_picks);
  std::vector<Pick> out;
  out.reserve(ranked.size());
  for (auto& entry : ranked) out.push_back(std::move(entry.second));
  return out;
}

}  // namespace fedlog::active::ranking

#endif  // FEDLOG_COMMON_ACTIVE_RANKING_H_
