// What a verdict on one line would change beyond its own group under the few-shot rule's token
// neighbourhoods (common/fewshot FewShotDetector with keep_alert_match > 0), for the line
// selector's expected corrections (SelectorOptions::neighbour_match). Under that rule a label
// decides the lines that share at least `match` of its tokens and are nearer to it than to any
// label of the other class, and a normal label also silences the alerted lines below the threshold
// that share at least `keep_match` of its tokens and are nearer to it than to every anomalous
// label; every other line keeps its decision. So an anomalous verdict turns the non-alerting lines
// of its neighbourhood into alerts, and a normal one silences the alerting lines of its (wider)
// neighbourhood. Internal to fedlog_active (selector.cc). Torch-free, gRPC-free. Thread-safety:
// immutable after construction; Reach is const.
#ifndef FEDLOG_COMMON_ACTIVE_NEIGHBOURHOOD_H_
#define FEDLOG_COMMON_ACTIVE_NEIGHBOURHOOD_H_

#include <cstdint>
#include <vector>

#include "common/active/selector.h"
#include "common/base/token_jaccard.h"

namespace fedlog::active::internal {

// |a ∩ b| / |a ∪ b| of sorted unique token lists; 0 when either is empty (common/base/token_jaccard.h).
inline double TokenJaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  return SortedTokenJaccard(a, b);
}

// The lines a verdict would change: `if_anomalous` non-alerting lines that would alert, `if_normal`
// alerting lines that would be silenced.
struct VerdictReach {
  double if_anomalous = 0;
  double if_normal = 0;
};

class Neighbourhoods {
 public:
  // Summarises the lines of `input` that carry tokens (and a finite score): their distinct token
  // sets, each with its non-alerting, alerting and alerting-below-`threshold` lines (a line alerts
  // by its LineInfo::alert, or by its score at or above the threshold when that is -1), and its
  // similarity to the nearest labelled line of each class. `input` is not retained.
  Neighbourhoods(const SelectionInput& input, double threshold, double match, double keep_match);

  // The reach of a verdict on a line with these tokens (sorted, unique); all zero when empty.
  VerdictReach Reach(const std::vector<uint64_t>& tokens) const;

 private:
  struct TokenSet {
    std::vector<uint64_t> tokens;
    int64_t quiet = 0;         // lines that do not alert
    int64_t alerting = 0;      // lines that alert
    int64_t alerting_low = 0;  // of those, the ones whose score is below the threshold
    double nearest_normal = 0, nearest_anomalous = 0;  // Jaccard to the nearest label of each class
  };
  std::vector<TokenSet> sets_;
  double match_ = 0, keep_match_ = 0;
};

}  // namespace fedlog::active::internal

#endif  // FEDLOG_COMMON_ACTIVE_NEIGHBOURHOOD_H_
