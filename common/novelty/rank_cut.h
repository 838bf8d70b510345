// RankCut: the label-free line decision's cut by rank among the recent lines (session 13, off by
// default; docs/DETECTION.md "The threshold"). The histogram threshold (SiteThreshold) says how many lines
// should alert; it is recomputed every refresh_lines lines and moves by whole histogram bins, so
// lines of one score alert at one moment and not at the next. RankCut keeps the last `window` lines'
// scores and the histogram rule's decision on each, and cuts at the m-th largest score among them
// (the scorer adds a line, with the histogram rule's decision on it, before it cuts for that line: the
// line counts itself, so a burst whose scores fall line after line is cut like one whose scores rise):
//   m = min(the histogram rule's alerts in the window, cap),
//   cap = the window's lines at or above the incident clusters' valley (SiteThreshold::ClusterValley,
//         when the compact rule has adapted) + floor(budget x the window's other lines);
//         without clusters floor(budget x the window's lines).
// So the rank cut alerts no more of the window than the histogram rule did, and outside the incident
// clusters at most the budget's share of the window, each of those alerts counted as if false; within
// that count it alerts the highest-ranked lines. A line's decision can be revised later (a held line
// decided at the end of the warm-up hold, NoveltyOptions::hold_lines).
// Memory O(window); Add is O(window) (a sorted vector), Cut O(log window).
// Thread-compatible: one instance per source stream (NoveltyScorer), used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_RANK_CUT_H_
#define FEDLOG_COMMON_NOVELTY_RANK_CUT_H_

#include <cstdint>
#include <deque>
#include <vector>

namespace fedlog::novelty {

class RankCut {
 public:
  // window >= 1 lines (the caller validates: NoveltyOptions::rank_window).
  explicit RankCut(int64_t window);

  // The cut for the next line (the class comment): +infinity when m is 0. `valley` <= 0: no
  // incident clusters (the budget stage). `budget` in (0, 0.5].
  double Cut(double valley, double budget) const;
  // m of the class comment, for the same arguments.
  int64_t Count(double valley, double budget) const;
  // Adds a line's score and the histogram rule's decision on it, dropping the oldest line beyond
  // the window; returns the line's sequence number (0, 1, 2, ... in Add order).
  int64_t Add(double score, bool alert);
  // Sets the histogram rule's decision on line `seq` (a held line decided at release); nothing when
  // the line has left the window.
  void Revise(int64_t seq, bool alert);
  int64_t size() const { return static_cast<int64_t>(lines_.size()); }
  int64_t alerts() const { return alerts_; }

 private:
  struct Line {
    double score = 0;
    bool alert = false;
  };
  int64_t window_;
  std::deque<Line> lines_;     // oldest first; lines_[0] has sequence number first_seq_
  int64_t first_seq_ = 0;
  std::vector<double> sorted_;  // the window's scores, ascending
  int64_t alerts_ = 0;          // histogram-rule alerts in the window
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_RANK_CUT_H_
