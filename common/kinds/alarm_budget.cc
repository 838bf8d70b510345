#include "common/kinds/alarm_budget.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedlog::kinds {

absl::StatusOr<AlarmBudgetMass> ParseAlarmBudgetMass(absl::string_view name) {
  if (name.empty()) return kDefaultAlarmBudgetMass;
  if (name == "all") return AlarmBudgetMass::kAll;
  if (name == "quiet") return AlarmBudgetMass::kQuiet;
  return absl::InvalidArgumentError(absl::StrCat("kind alarm budget mass must be all or quiet, got \"", name, "\""));
}

const char* AlarmBudgetMassName(AlarmBudgetMass mass) { return mass == AlarmBudgetMass::kAll ? "all" : "quiet"; }

absl::Status AlarmBudgetOptions::Validate() const {
  if (!(share >= 0 && share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("kind alarm budget: share must be in [0, 1], got ", share));
  }
  if (exempt_sites != 0 && (exempt_sites < 2 || exempt_sites > kMaxVerdictSites)) {
    return absl::InvalidArgumentError(absl::StrCat("kind alarm budget: exempt sites must be 0 or in [2, ",
                                                   kMaxVerdictSites, "], got ", exempt_sites));
  }
  if (mass != AlarmBudgetMass::kAll && mass != AlarmBudgetMass::kQuiet) {
    return absl::InvalidArgumentError(absl::StrCat("kind alarm budget: unknown mass ", static_cast<int>(mass)));
  }
  return absl::OkStatus();
}

void AlarmBudget::Count(const std::vector<uint64_t>& kinds, bool own_alert) {
  std::vector<uint64_t> distinct = kinds;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const double w = Weight(own_alert);
  for (uint64_t k : distinct) counts_[k].n += w;
  AddUnit();
}

void AlarmBudget::Count(uint64_t kind, bool own_alert) {
  counts_[kind].n += Weight(own_alert);
  AddUnit();
}

double AlarmBudget::Weight(bool own_alert) const {
  return own_alert && options_.mass == AlarmBudgetMass::kQuiet ? 0.0 : 1.0;
}

void AlarmBudget::AddUnit() {
  units_ += 1;
  if (units_ <= kHalveAt) return;
  for (auto it = counts_.begin(); it != counts_.end();) {
    it->second.n *= 0.5;
    it = it->second.n < 0.5 ? counts_.erase(it) : std::next(it);
  }
  units_ *= 0.5;
  let_through_ *= 0.5;
  stale_ = true;
}

double AlarmBudget::Allowance() const { return options_.share * std::max(units_, kMinUnits); }

bool AlarmBudget::Budgeted(uint64_t kind, const KindSketch& sketch, const KindVerdictOptions& verdicts) const {
  return sketch.VerdictOf(kind, verdicts) == KindVerdict::kAnomalous && !Exempt(kind, sketch);
}

bool AlarmBudget::Exempt(uint64_t kind, const KindSketch& sketch) const {
  return options_.exempt_sites != 0 && sketch.Anomalous(kind) > (options_.exempt_sites - 1) * kSiteBucketCap;
}

void AlarmBudget::Recompute(const KindSketch& sketch, const KindVerdictOptions& verdicts) {
  std::vector<std::pair<double, uint64_t>> held;  // (units, kind) of the budgeted anomalous kinds seen
  for (auto& [kind, c] : counts_) {
    c.known = true;
    c.budgeted = Budgeted(kind, sketch, verdicts);
    c.allowed = !c.budgeted;
    if (c.budgeted) held.emplace_back(c.n, kind);
  }
  std::sort(held.begin(), held.end());
  room_ = Allowance();
  for (const auto& [n, kind] : held) {
    if (n > room_) break;
    room_ -= n;
    counts_[kind].allowed = true;
  }
  // Found again after another 1/256 of the units seen: between two finds a kind keeps its mark.
  next_recompute_ = units_ + std::max(1.0, units_ / 256);
  stale_ = false;
}

bool AlarmBudget::Allows(uint64_t kind, const KindSketch& sketch, const KindVerdictOptions& verdicts) {
  if (options_.share <= 0) return true;
  if (Exempt(kind, sketch)) return true;
  if (stale_ || units_ >= next_recompute_) Recompute(sketch, verdicts);
  if (let_through_ + 1 > Allowance()) return false;
  // A kind first seen since the last find is allowed when its units fit in the room the allowed kinds left.
  auto it = counts_.find(kind);
  const bool allowed = it == counts_.end() || (it->second.known ? it->second.allowed : it->second.n <= room_);
  if (allowed) let_through_ += 1;
  return allowed;
}

bool AlarmBudget::AllowsAny(const std::vector<uint64_t>& kinds, const KindSketch& sketch,
                            const KindVerdictOptions& verdicts) {
  for (uint64_t k : kinds) {
    if (sketch.VerdictOf(k, verdicts) == KindVerdict::kAnomalous && Allows(k, sketch, verdicts)) return true;
  }
  return false;
}

}  // namespace fedlog::kinds
