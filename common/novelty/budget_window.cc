#include "common/novelty/budget_window.h"

#include <algorithm>
#include <cmath>

namespace fedlog::novelty {

BudgetWindow::BudgetWindow(int64_t window)
    : window_(std::max<int64_t>(window, 1)),
      per_bin_(bins_.counts().size(), 0),
      alerts_per_bin_(bins_.counts().size(), 0) {}

int64_t BudgetWindow::Add(double score, bool alert) {
  const int64_t seq = first_seq_ + size();
  const int bin = bins_.BinOf(score);
  lines_.push_back({bin, alert});
  ++per_bin_[static_cast<size_t>(bin)];
  alerts_per_bin_[static_cast<size_t>(bin)] += alert ? 1 : 0;
  if (size() > window_) {
    const Line& old = lines_.front();
    --per_bin_[static_cast<size_t>(old.bin)];
    alerts_per_bin_[static_cast<size_t>(old.bin)] -= old.alert ? 1 : 0;
    lines_.pop_front();
    ++first_seq_;
  }
  return seq;
}

void BudgetWindow::Set(int64_t seq, double score, bool alert) {
  if (seq < first_seq_ || seq >= first_seq_ + size()) return;
  Line& l = lines_[static_cast<size_t>(seq - first_seq_)];
  --per_bin_[static_cast<size_t>(l.bin)];
  alerts_per_bin_[static_cast<size_t>(l.bin)] -= l.alert ? 1 : 0;
  l.bin = bins_.BinOf(score);
  l.alert = alert;
  ++per_bin_[static_cast<size_t>(l.bin)];
  alerts_per_bin_[static_cast<size_t>(l.bin)] += alert ? 1 : 0;
}

int BudgetWindow::ValleyBin(double valley) const {
  const int nb = static_cast<int>(per_bin_.size());
  if (!(valley > 0)) return nb;
  // SiteThreshold's valley is a bin's lower edge: that bin and those above it are the clusters.
  int b = bins_.BinOf(valley);
  if (bins_.LowerEdge(b) < valley) ++b;
  return std::min(b, nb);
}

int64_t BudgetWindow::LinesBelow(double valley) const {
  const int vb = ValleyBin(valley);
  int64_t n = 0;
  for (int b = 0; b < vb; ++b) n += per_bin_[static_cast<size_t>(b)];
  return n;
}

int64_t BudgetWindow::AlertsBelow(double valley) const {
  const int vb = ValleyBin(valley);
  int64_t n = 0;
  for (int b = 0; b < vb; ++b) n += alerts_per_bin_[static_cast<size_t>(b)];
  return n;
}

int64_t BudgetWindow::Cap(double valley, double budget) const {
  // The window's slots less its incident lines: while fewer than `window` lines were seen, the
  // lines still to come count as below the clusters.
  const int64_t incident = size() - LinesBelow(valley);
  return static_cast<int64_t>(std::floor(budget * static_cast<double>(window_ - incident)));
}

bool BudgetWindow::Allows(double score, double valley, double budget) const {
  if (bins_.BinOf(score) >= ValleyBin(valley)) return true;  // an incident cluster's line
  return AlertsBelow(valley) + 1 <= Cap(valley, budget);
}

}  // namespace fedlog::novelty
