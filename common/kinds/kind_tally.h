// fedlog::kinds::KindTally: one site's labelled units per message kind, and the capped KindSketch the
// site sends (docs/DETECTION.md "The federation's kind verdicts", "What one site can and cannot do").
// Each kind's (anomalous, normal) pair is scaled down to at most kSiteBucketCap units keeping its class
// proportion, the kinds are added to a sketch, and each bucket whose classes together still exceed the
// cap (kinds colliding in it) is scaled down the same way. So one site holds at most kSiteBucketCap in
// any bucket: it can reach a verdict alone, but it cannot outvote another site's labels, and a verdict
// that needs more than one site (KindVerdictOptions::normal_sites) needs another site's labels.
// Thread-compatible.
#ifndef FEDLOG_COMMON_KINDS_KIND_TALLY_H_
#define FEDLOG_COMMON_KINDS_KIND_TALLY_H_

#include <cstdint>
#include <map>
#include <vector>

#include "common/kinds/kind_sketch.h"

namespace fedlog::kinds {

class KindTally {
 public:
  // Counts one labelled unit: `kinds` its lines' signatures (duplicates count once), `anomalous` its
  // label (as KindSketch::AddUnit).
  void AddUnit(const std::vector<uint64_t>& kinds, bool anomalous);
  // The sketch the site sends: each kind and then each bucket capped at `cap` (> 0; kSiteBucketCap).
  KindSketch CappedSketch(double cap = kSiteBucketCap) const;
  // The same counts without the cap (session 17's sketch; for measuring what the cap changes).
  KindSketch UncappedSketch() const;
  // Units counted, and distinct kinds seen.
  double units() const { return units_; }
  size_t kinds() const { return counts_.size(); }

 private:
  std::map<uint64_t, std::pair<double, double>> counts_;  // kind -> (anomalous, normal) units
  double units_ = 0;
};

}  // namespace fedlog::kinds

#endif  // FEDLOG_COMMON_KINDS_KIND_TALLY_H_
