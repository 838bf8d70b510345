// fedlog::kinds::AlarmBudget: how many of a site's units the federation's anomalous kind verdicts may make
// alert on their own (docs/DETECTION.md "What one site can and cannot do"). One site's labels are enough for
// an anomalous verdict (KindVerdictOptions::anomalous_sites 1), so a lone site that labels every kind of a
// source anomalous would make every site running that source alert on every line. The budget is the
// receiving site's bound on that, whatever counts reach it: the site counts per kind the units it has seen
// (a line; a closed session once for each distinct kind), by default only the units its own detector and
// labels left quiet (AlarmBudgetMass::kQuiet: what a verdict on the kind could alert on its own), and an
// anomalous verdict that alone would raise an alert does so only (1) while its kind is among the site's
// RAREST anomalous-verdict kinds whose counted units together hold at most `share` of the site's units, and
// (2) while the alerts it has let through stay within `share` of the site's units (share x max(units,
// kMinUnits)). So the units the federation alone makes alert are at most `share` of the stream, under plain
// and secure aggregation alike (it needs no per-site view; (2) alone is the bound, (1) gives the budget to
// rare kinds first: a rare incident kind keeps its verdict). A verdict it withholds leaves the unit to the
// site's own detector and labels.
// Thread-compatible (one per source and unit kind; the caller serialises).
#ifndef FEDLOG_COMMON_KINDS_ALARM_BUDGET_H_
#define FEDLOG_COMMON_KINDS_ALARM_BUDGET_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kinds/kind_sketch.h"

namespace fedlog::kinds {

// The default share (detect.kind_alarm_budget; docs/EVALUATION.md "Session 19: ...").
inline constexpr double kDefaultAlarmBudget = 0.02;

// Which units a kind's count holds (detect.kind_alarm_budget_mass; docs/EVALUATION.md "Session 20: ...").
// kAll (session 19): every unit holding the kind, so a kind the site's own detector alerts on anyway, or an
// incident kind spread over many sessions, weighs its whole mass. kQuiet: only the units the site's own
// detector and labels left quiet, the units a verdict on the kind alone could alert (an upper bound of
// what allowing the kind costs: a unit with several such kinds counts for each).
enum class AlarmBudgetMass : int8_t { kAll = 0, kQuiet = 1 };
inline constexpr AlarmBudgetMass kDefaultAlarmBudgetMass = AlarmBudgetMass::kQuiet;
// "all" / "quiet" (the config's and the eval's spelling); "" is the default.
absl::StatusOr<AlarmBudgetMass> ParseAlarmBudgetMass(absl::string_view name);
const char* AlarmBudgetMassName(AlarmBudgetMass mass);

struct AlarmBudgetOptions {
  // The largest share of the site's units that anomalous-verdict kinds may hold and still alert, in [0, 1];
  // 0 = off (every anomalous verdict alerts, as before session 19).
  double share = kDefaultAlarmBudget;
  // 0 (default): every anomalous verdict is budgeted. N in [2, kMaxVerdictSites]: a verdict whose anomalous
  // estimate exceeds (N - 1) x kSiteBucketCap, labels from at least N capped sites, alerts unbudgeted. The
  // cap is checked only in plain rounds, so under secure aggregation one modified site can pass as N.
  int exempt_sites = 0;
  AlarmBudgetMass mass = kDefaultAlarmBudgetMass;
  absl::Status Validate() const;
};

class AlarmBudget {
 public:
  // A young site may give verdicts share x kMinUnits units before it has seen that many.
  static constexpr double kMinUnits = 1000;
  // Past this many units every count is halved (old traffic fades; the map stays bounded).
  static constexpr double kHalveAt = 65536;

  explicit AlarmBudget(const AlarmBudgetOptions& options = {}) : options_(options) {}

  // Counts one unit of the site's stream holding `kinds` (duplicates count once); call it for every unit,
  // alerted or not, before Allows on that unit. `own_alert`: the site's own detector or labels decided the
  // unit (alerted it, or a label decides it), so no verdict alone could alert it (with kQuiet it adds to the
  // units seen, not to its kinds).
  void Count(const std::vector<uint64_t>& kinds, bool own_alert);
  // One unit of one kind (a line), or of none (a line without a kind signature): no allocation, the per-line
  // path of the daemon.
  void Count(uint64_t kind, bool own_alert);
  void CountUnit() { AddUnit(); }
  // Whether `kind`, which has the anomalous verdict of `sketch` under `verdicts`, may raise an alert now on a
  // unit the site's own detector did not alert; true is counted as an alert let through. The caller passes
  // the same sketch and options until it calls Invalidate (a new model, new options).
  bool Allows(uint64_t kind, const KindSketch& sketch, const KindVerdictOptions& verdicts);
  // Whether any anomalous-verdict kind among `kinds` may raise an alert now (a session unit; one alert).
  bool AllowsAny(const std::vector<uint64_t>& kinds, const KindSketch& sketch, const KindVerdictOptions& verdicts);
  // The sketch or the verdict options changed: the budgeted kinds are found again at the next Allows.
  void Invalidate() { stale_ = true; }
  void SetOptions(const AlarmBudgetOptions& options) {
    options_ = options;
    stale_ = true;
  }
  const AlarmBudgetOptions& options() const { return options_; }
  double units() const { return units_; }
  // Alerts let through (halved with the counts).
  double let_through() const { return let_through_; }

 private:
  // One more unit; past kHalveAt every count is halved.
  void AddUnit();
  // What a unit adds to each of its kinds' counts (options_.mass).
  double Weight(bool own_alert) const;
  // Whether exempt_sites lets `kind`'s anomalous verdict alert outside the budget.
  bool Exempt(uint64_t kind, const KindSketch& sketch) const;
  bool Budgeted(uint64_t kind, const KindSketch& sketch, const KindVerdictOptions& verdicts) const;
  double Allowance() const;
  // Marks the budgeted anomalous kinds allowed, rarest first (ties by kind), while their units together stay
  // within Allowance(); room_ is what is left.
  void Recompute(const KindSketch& sketch, const KindVerdictOptions& verdicts);

  AlarmBudgetOptions options_;
  struct KindCount {
    double n = 0;           // units holding the kind (with kQuiet, those the site left quiet)
    bool known = false;     // seen at the last find (Recompute)
    bool budgeted = false;  // then: an anomalous verdict the budget covers
    bool allowed = false;   // then: not budgeted, or among the rarest within the share
  };
  std::unordered_map<uint64_t, KindCount> counts_;  // by kind
  double units_ = 0;
  double let_through_ = 0;
  double room_ = 0;
  double next_recompute_ = 0;  // units_ at which the allowed kinds are found again
  bool stale_ = true;
};

}  // namespace fedlog::kinds

#endif  // FEDLOG_COMMON_KINDS_ALARM_BUDGET_H_
