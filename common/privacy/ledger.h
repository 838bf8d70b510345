// A privacy budget ledger: the (epsilon, delta) spent by a run or a site, round by round, under the RDP
// accountant (rdp_accountant.h). Rounds compose by adding their RDP order by order (not by adding epsilons,
// which would overstate the spend), and the ledger answers "would charging the next round exceed the target?"
// before the round runs, so a run can stop while it is still within budget.
//
// The ledger records each round's mechanism (q, sigma, steps) and recomputes the RDP curve from them, so its
// text form (Serialize / Parse) is small and a reader never trusts stored epsilons.
// Thread-compatible: callers that share one ledger across threads hold their own lock.
#ifndef FEDLOG_COMMON_PRIVACY_LEDGER_H_
#define FEDLOG_COMMON_PRIVACY_LEDGER_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/privacy/rdp_accountant.h"

namespace fedlog::privacy {

// One round's use of the sampled Gaussian mechanism.
struct MechanismStep {
  double sampling_rate = 1.0;     // q: fraction of records (sites, or lines) in each step
  double noise_multiplier = 1.0;  // sigma: noise standard deviation / clipping norm
  int64_t steps = 1;              // steps of the mechanism in the round (1 for site-level DP)
};

struct LedgerOptions {
  double target_epsilon = std::numeric_limits<double>::infinity();  // a round that would exceed it is refused
  double delta = 1e-5;                                              // the delta epsilon is reported at
  std::vector<double> orders = DefaultOrders();
};

struct RoundCharge {
  int64_t round = 0;
  MechanismStep step;
  double epsilon_after = 0;  // cumulative epsilon once this round is charged
  double order = 0;          // the RDP order that gives epsilon_after
};

class PrivacyLedger {
 public:
  // InvalidArgument for a delta outside (0, 1), a negative or NaN target, or an empty order list.
  static absl::StatusOr<PrivacyLedger> Create(LedgerOptions options);

  // The cumulative epsilon (and its order) if `step` were charged now; the ledger is unchanged.
  absl::StatusOr<EpsilonAtOrder> EpsilonIfCharged(const MechanismStep& step) const;
  // True when charging `step` would take the cumulative epsilon above the target.
  absl::StatusOr<bool> WouldExceed(const MechanismStep& step) const;
  // Charges round `round` (strictly increasing) with `step`. FailedPrecondition, and nothing charged, when it
  // would exceed the target; InvalidArgument for a bad step or a round number not above the last.
  absl::Status Charge(int64_t round, const MechanismStep& step);

  double epsilon() const { return epsilon_; }  // cumulative epsilon spent so far (0 before any round)
  double delta() const { return options_.delta; }
  double target_epsilon() const { return options_.target_epsilon; }
  const std::vector<RoundCharge>& rounds() const { return rounds_; }

  // Text form: a header line, then one "round q sigma steps" line per charged round (doubles printed
  // round-trip exact). Parse re-charges the rounds under `options` and fails if any exceeds its target.
  std::string Serialize() const;
  static absl::StatusOr<PrivacyLedger> Parse(LedgerOptions options, absl::string_view text);

 private:
  explicit PrivacyLedger(LedgerOptions options);

  LedgerOptions options_;
  std::vector<double> rdp_;  // cumulative RDP at options_.orders[i]
  std::vector<RoundCharge> rounds_;
  double epsilon_ = 0;
};

}  // namespace fedlog::privacy

#endif  // FEDLOG_COMMON_PRIVACY_LEDGER_H_
