#include "common/novelty/rank_cut.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedlog::novelty {

RankCut::RankCut(int64_t window) : window_(std::max<int64_t>(window, 1)) {}

int64_t RankCut::Count(double valley, double budget) const {
  const int64_t n = size();
  int64_t clusters = 0;
  if (valley > 0) {
    clusters = static_cast<int64_t>(sorted_.end() - std::lower_bound(sorted_.begin(), sorted_.end(), valley));
  }
  const int64_t cap =
      clusters + static_cast<int64_t>(std::floor(budget * static_cast<double>(n - clusters)));
  return std::min(alerts_, cap);
}

double RankCut::Cut(double valley, double budget) const {
  const int64_t m = Count(valley, budget);
  if (m <= 0) return std::numeric_limits<double>::infinity();
  return sorted_[sorted_.size() - static_cast<size_t>(m)];
}

int64_t RankCut::Add(double score, bool alert) {
  const int64_t seq = first_seq_ + size();
  lines_.push_back({score, alert});
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), score), score);
  alerts_ += alert ? 1 : 0;
  if (size() > window_) {
    const Line& old = lines_.front();
    sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), old.score));
    alerts_ -= old.alert ? 1 : 0;
    lines_.pop_front();
    ++first_seq_;
  }
  return seq;
}

void RankCut::Revise(int64_t seq, bool alert) {
  if (seq < first_seq_ || seq >= first_seq_ + size()) return;
  Line& l = lines_[static_cast<size_t>(seq - first_seq_)];
  alerts_ += (alert ? 1 : 0) - (l.alert ? 1 : 0);
  l.alert = alert;
}

}  // namespace fedlog::novelty
