// TailHistogram: the running distribution of one non-negative signal, kept as counts in fixed
// log-spaced bins, so that a new value can be turned into a tail probability against everything seen
// before it ("how often was this signal at least this high?"). The label-free detector (scorer.h)
// uses one per signal to put signals of different units on one scale, and one for its fused score to
// turn the site's alert budget into a threshold (a running quantile).
// Memory and time per call are O(bins); no allocation after construction.
// Thread-compatible: one instance is used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_TAIL_HISTOGRAM_H_
#define FEDLOG_COMMON_NOVELTY_TAIL_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace fedlog::novelty {

class TailHistogram {
 public:
  // Bin b holds values x with floor(log1p(x) * bins_per_unit) == b; the last bin also holds every
  // larger value. Values below 0 (and NaN) count as 0.
  explicit TailHistogram(int bins = 384, double bins_per_unit = 48.0);

  void Add(double x);
  // (number of past values in x's bin or above + 1) / (count + 1): the smoothed probability that an
  // earlier value was at least as large (ties at bin resolution count as "at least"). 1 when empty.
  double Tail(double x) const;
  // The smallest value v (a bin's lower edge) such that the share of past values in bins >= v's bin
  // is at most `tail`; +infinity when even the top bin holds more than that share, or when fewer than
  // 1 / tail values were seen (no quantile is yet defined at that resolution).
  double UpperQuantile(double tail) const;
  int64_t count() const { return count_; }
  // The bins, for shape analysis (site_threshold.h's valley search): counts()[b] values fell in bin b,
  // whose lower edge is LowerEdge(b).
  const std::vector<int64_t>& counts() const { return counts_; }
  double LowerEdge(int bin) const;
  // The bin Add puts `x` in (budget_window.h keeps its window's lines in the same bins).
  int BinOf(double x) const { return Bin(x); }
  // Bins per unit of ln(1 + x) (the constructor's bins_per_unit).
  double bins_per_unit() const { return bins_per_unit_; }

 private:
  int Bin(double x) const;

  double bins_per_unit_;
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
};

// AlertBudget: the threshold a site with no labels uses. It keeps the running distribution of the
// scores it has decided on and alerts when a score reaches the upper quantile at the budget
// (`rate`, the share of lines the site accepts as alerts); nothing alerts during warm-up or before
// 1 / rate scores were seen, and a score of 0 never alerts.
class AlertBudget {
 public:
  AlertBudget(double rate, int64_t warmup) : rate_(rate), warmup_(warmup) {}
  // The threshold in force now (+infinity while none is defined).
  double Threshold() const;
  // Alert decision for `score` against the scores before it; then remembers it.
  bool Decide(double score, double* threshold = nullptr);
  double rate() const { return rate_; }

 private:
  double rate_;
  int64_t warmup_;
  TailHistogram scores_;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_TAIL_HISTOGRAM_H_
