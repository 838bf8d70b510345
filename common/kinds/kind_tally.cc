#include "common/kinds/kind_tally.h"

#include <algorithm>

namespace fedlog::kinds {

void KindTally::AddUnit(const std::vector<uint64_t>& kinds, bool anomalous) {
  std::vector<uint64_t> distinct = kinds;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (uint64_t k : distinct) {
    auto& [a, b] = counts_[k];
    (anomalous ? a : b) += 1;
  }
  units_ += 1;
}

KindSketch KindTally::CappedSketch(double cap) const {
  KindSketch s;
  for (const auto& [kind, ab] : counts_) {
    const double total = ab.first + ab.second;
    const double scale = total > cap ? cap / total : 1.0;
    s.AddKind(kind, ab.first * scale, ab.second * scale);
  }
  s.CapBuckets(cap);
  return s;
}

KindSketch KindTally::UncappedSketch() const {
  KindSketch s;
  for (const auto& [kind, ab] : counts_) s.AddKind(kind, ab.first, ab.second);
  return s;
}

}  // namespace fedlog::kinds
