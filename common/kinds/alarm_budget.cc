#include "common/kinds/alarm_budget.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace fedlog::kinds {

absl::Status AlarmBudgetOptions::Validate() const {
  if (!(share >= 0 && share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("kind alarm budget: share must be in [0, 1], got ", share));
  }
  if (exempt_sites != 0 && (exempt_sites < 2 || exempt_sites > kMaxVerdictSites)) {
    return absl::InvalidArgumentError(absl::StrCat("kind alarm budget: exempt sites must be 0 or in [2, ",
                                                   kMaxVerdictSites, "], got ", exempt_sites));
  }
  return absl::OkStatus();
}

void AlarmBudget::Count(const std::vector<uint64_t>& kinds) {
  std::vector<uint64_t> distinct = kinds;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (uint64_t k : distinct) counts_[k].n += 1;
  units_ += 1;
  if (units_ <= kHalveAt) return;
  for (auto it = counts_.begin(); it != counts_.end();) {
    it->second.n *= 0.5;
    it = it->second.n < 0.5 ? counts_.erase(it) : std::next(it);
  }
  units_ *= 0.5;
  stale_ = true;
}

bool AlarmBudget::Budgeted(uint64_t kind, const KindSketch& sketch, const KindVerdictOptions& verdicts) const {
  if (sketch.VerdictOf(kind, verdicts) != KindVerdict::kAnomalous) return false;
  return options_.exempt_sites == 0 || sketch.Anomalous(kind) <= (options_.exempt_sites - 1) * kSiteBucketCap;
}

void AlarmBudget::Recompute(const KindSketch& sketch, const KindVerdictOptions& verdicts) {
  std::vector<double> held;  // the counts of the budgeted anomalous kinds the site has seen
  for (auto& [kind, c] : counts_) {
    c.budgeted = Budgeted(kind, sketch, verdicts);
    if (c.budgeted) held.push_back(c.n);
  }
  std::sort(held.begin(), held.end());
  const double allowance = options_.share * std::max(units_, kMinUnits);
  double sum = 0;
  threshold_ = 0;
  for (size_t i = 0; i < held.size();) {
    size_t j = i;
    double tied = 0;  // kinds of equal count go in together or not at all
    for (; j < held.size() && held[j] == held[i]; ++j) tied += held[j];
    if (sum + tied > allowance) break;
    sum += tied;
    threshold_ = held[i];
    i = j;
  }
  // Found again after another 1/256 of the units seen: between two finds the budgeted kinds' share can grow
  // by at most that much.
  for (auto& [kind, c] : counts_) {
    c.known = true;
    c.allowed = !c.budgeted || c.n <= threshold_;
  }
  next_recompute_ = units_ + std::max(1.0, units_ / 256);
  stale_ = false;
}

bool AlarmBudget::Allows(uint64_t kind, const KindSketch& sketch, const KindVerdictOptions& verdicts) {
  if (options_.share <= 0) return true;
  if (options_.exempt_sites != 0 && sketch.Anomalous(kind) > (options_.exempt_sites - 1) * kSiteBucketCap) {
    return true;
  }
  if (stale_ || units_ >= next_recompute_) Recompute(sketch, verdicts);
  // A kind keeps what the last find gave it until the next (its count may have grown since); a kind first
  // seen since then is as rare as its count says.
  auto it = counts_.find(kind);
  if (it == counts_.end()) return true;
  return it->second.known ? it->second.allowed : it->second.n <= threshold_;
}

bool AlarmBudget::AllowsAny(const std::vector<uint64_t>& kinds, const KindSketch& sketch,
                            const KindVerdictOptions& verdicts) {
  for (uint64_t k : kinds) {
    if (sketch.VerdictOf(k, verdicts) == KindVerdict::kAnomalous && Allows(k, sketch, verdicts)) return true;
  }
  return false;
}

}  // namespace fedlog::kinds
