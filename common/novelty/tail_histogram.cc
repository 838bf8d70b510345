#include "common/novelty/tail_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedlog::novelty {

TailHistogram::TailHistogram(int bins, double bins_per_unit)
    : bins_per_unit_(bins_per_unit), counts_(static_cast<size_t>(std::max(bins, 1)), 0) {}

int TailHistogram::Bin(double x) const {
  if (!(x > 0)) return 0;  // also NaN
  const double b = std::floor(std::log1p(x) * bins_per_unit_);
  const double top = static_cast<double>(counts_.size() - 1);
  return static_cast<int>(std::min(b, top));
}

double TailHistogram::LowerEdge(int bin) const {
  return std::expm1(static_cast<double>(bin) / bins_per_unit_);
}

void TailHistogram::Add(double x) {
  ++counts_[static_cast<size_t>(Bin(x))];
  ++count_;
}

double TailHistogram::Tail(double x) const {
  int64_t at_least = 0;
  for (size_t b = static_cast<size_t>(Bin(x)); b < counts_.size(); ++b) at_least += counts_[b];
  return static_cast<double>(at_least + 1) / static_cast<double>(count_ + 1);
}

double TailHistogram::UpperQuantile(double tail) const {
  const double inf = std::numeric_limits<double>::infinity();
  if (count_ == 0 || tail <= 0 || static_cast<double>(count_) * tail < 1.0) return inf;
  const double allowed = tail * static_cast<double>(count_);
  int64_t above = 0;
  // Walk down from the top: the lowest bin whose suffix mass still fits the budget.
  int best = -1;
  for (int b = static_cast<int>(counts_.size()) - 1; b >= 0; --b) {
    above += counts_[static_cast<size_t>(b)];
    if (static_cast<double>(above) > allowed) break;
    best = b;
  }
  if (best < 0) return inf;
  return LowerEdge(best);
}

double AlertBudget::Threshold() const {
  if (scores_.count() < warmup_) return std::numeric_limits<double>::infinity();
  return scores_.UpperQuantile(rate_);
}

bool AlertBudget::Decide(double score, double* threshold) {
  const double t = Threshold();
  if (threshold != nullptr) *threshold = t;
  scores_.Add(score);
  return score > 0 && score >= t;
}

}  // namespace fedlog::novelty
