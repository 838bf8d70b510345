// BudgetWindow: the label-free line decision's guard on the alert budget over a trailing window
// (NoveltyOptions::budget_window; docs/DETECTION.md "The threshold"). What the budget promises a
// site: over any `window` consecutive lines of a source (the lines so far while there are fewer),
// the alerts raised on lines the detector does not take for an incident are at most the budget's
// share of the window's lines that are not an incident's:
//   counted alerts <= floor(budget x (window - the window's lines at or above the valley)),
// the alerts counted among the window's lines whose score is below the incident clusters' valley
// (SiteThreshold::ClusterValley while the compact rule has adapted; every line otherwise). For a
// full window that is the budget's share of its lines below the valley; while fewer than `window`
// lines were seen, the lines still to come count as below it ("at most 100 alerts in any 10,000
// lines", the first 10,000 included; session 15's rule R2: R1, the share of the lines seen so far,
// withheld the first lines of every incident the rule had not yet recognised early in the stream).
// The incident clusters are neither counted nor throttled, as the rest budget and the rank cut
// treat them (sessions 11-13). The valley in force when a line is decided classifies the whole
// window, so an incident that began before the rule recognised it stops counting once it is
// recognised. The histogram threshold is a quantile over the whole stream so far, recomputed every
// refresh and moved by whole bins, so it can spend far more than the budget over a stretch of the
// stream; the scorer asks Allows before it raises an alert below the valley and withholds the alert
// when the window is full. Lines are kept in TailHistogram's bins (a line is below the valley when
// its bin's lower edge is). Memory O(window + bins); Add and Set O(1), Allows O(bins).
// Thread-compatible: one instance per source stream (NoveltyScorer), used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_BUDGET_WINDOW_H_
#define FEDLOG_COMMON_NOVELTY_BUDGET_WINDOW_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "common/novelty/tail_histogram.h"

namespace fedlog::novelty {

class BudgetWindow {
 public:
  // window >= 1 lines (the caller validates: NoveltyOptions::budget_window).
  explicit BudgetWindow(int64_t window);

  // Adds a line's score and whether it alerted, dropping the oldest line beyond the window; returns
  // the line's sequence number (0, 1, 2, ... in Add order).
  int64_t Add(double score, bool alert);
  // Sets line `seq`'s score and decision (a held line decided at release); nothing when the line
  // has left the window.
  void Set(int64_t seq, double score, bool alert);
  // Whether one more alert on a line of `score`, already added as not alerting, keeps the promise:
  // true when the line is at or above `valley` (> 0: the incident clusters' lower edge; <= 0:
  // none), else when AlertsBelow(valley) + 1 <= Cap(valley, budget).
  bool Allows(double score, double valley, double budget) const;
  // floor(budget x (window - the window's lines at or above `valley`)): the most alerts below the
  // valley the window may hold (the class comment).
  int64_t Cap(double valley, double budget) const;
  // The window's lines below `valley` (all when valley <= 0), and the alerts among them.
  int64_t LinesBelow(double valley) const;
  int64_t AlertsBelow(double valley) const;
  int64_t size() const { return static_cast<int64_t>(lines_.size()); }

 private:
  // The first bin whose lower edge is at or above `valley`; the number of bins when valley <= 0
  // (every line is below).
  int ValleyBin(double valley) const;

  struct Line {
    int bin = 0;
    bool alert = false;
  };
  int64_t window_;
  TailHistogram bins_;      // binning only (BinOf, LowerEdge); never filled
  std::deque<Line> lines_;  // oldest first; lines_[0] has sequence number first_seq_
  int64_t first_seq_ = 0;
  std::vector<int64_t> per_bin_;  // the window's lines per bin
  std::vector<int64_t> alerts_per_bin_;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_BUDGET_WINDOW_H_
