#include "common/privacy/ledger.h"

#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/status_macros.h"

namespace fedlog::privacy {
namespace {

constexpr absl::string_view kHeader = "fedlog-privacy-ledger v1";

}  // namespace

PrivacyLedger::PrivacyLedger(LedgerOptions options)
    : options_(std::move(options)), rdp_(options_.orders.size(), 0.0) {}

absl::StatusOr<PrivacyLedger> PrivacyLedger::Create(LedgerOptions options) {
  if (!(options.delta > 0.0 && options.delta < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("ledger delta ", options.delta, " not in (0, 1)"));
  }
  if (!(options.target_epsilon >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("target epsilon ", options.target_epsilon, " must be >= 0"));
  }
  if (options.orders.empty()) return absl::InvalidArgumentError("ledger needs at least one RDP order");
  for (double a : options.orders) {
    if (!(a > 1.0) || std::isinf(a)) return absl::InvalidArgumentError(absl::StrCat("RDP order ", a, " must be > 1"));
  }
  return PrivacyLedger(std::move(options));
}

absl::StatusOr<EpsilonAtOrder> PrivacyLedger::EpsilonIfCharged(const MechanismStep& step) const {
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> add, SampledGaussianRdp(step.sampling_rate, step.noise_multiplier,
                                                                      step.steps, options_.orders));
  for (size_t i = 0; i < add.size(); ++i) add[i] += rdp_[i];
  return RdpToEpsilon(options_.orders, add, options_.delta);
}

absl::StatusOr<bool> PrivacyLedger::WouldExceed(const MechanismStep& step) const {
  FEDLOG_ASSIGN_OR_RETURN(EpsilonAtOrder e, EpsilonIfCharged(step));
  return e.epsilon > options_.target_epsilon;
}

absl::Status PrivacyLedger::Charge(int64_t round, const MechanismStep& step) {
  if (!rounds_.empty() && round <= rounds_.back().round) {
    return absl::InvalidArgumentError(
        absl::StrCat("round ", round, " charged after round ", rounds_.back().round, "; rounds must increase"));
  }
  FEDLOG_ASSIGN_OR_RETURN(std::vector<double> add, SampledGaussianRdp(step.sampling_rate, step.noise_multiplier,
                                                                      step.steps, options_.orders));
  std::vector<double> next = rdp_;
  for (size_t i = 0; i < add.size(); ++i) next[i] += add[i];
  FEDLOG_ASSIGN_OR_RETURN(EpsilonAtOrder e, RdpToEpsilon(options_.orders, next, options_.delta));
  if (e.epsilon > options_.target_epsilon) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "round %d would bring epsilon to %.6g, above the target %.6g (delta %g); spent so far %.6g", round,
        e.epsilon, options_.target_epsilon, options_.delta, epsilon_));
  }
  rdp_ = std::move(next);
  epsilon_ = e.epsilon;
  rounds_.push_back({round, step, e.epsilon, e.order});
  return absl::OkStatus();
}

std::string PrivacyLedger::Serialize() const {
  std::string out = absl::StrCat(kHeader, "\n");
  for (const RoundCharge& r : rounds_) {
    absl::StrAppendFormat(&out, "%d %.17g %.17g %d\n", r.round, r.step.sampling_rate, r.step.noise_multiplier,
                          r.step.steps);
  }
  return out;
}

absl::StatusOr<PrivacyLedger> PrivacyLedger::Parse(LedgerOptions options, absl::string_view text) {
  FEDLOG_ASSIGN_OR_RETURN(PrivacyLedger ledger, Create(std::move(options)));
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  if (lines.empty() || absl::StripAsciiWhitespace(lines[0]) != kHeader) {
    return absl::InvalidArgumentError(absl::StrCat("privacy ledger does not start with '", kHeader, "'"));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    MechanismStep step;
    int64_t round = 0;
    if (f.size() != 4 || !absl::SimpleAtoi(f[0], &round) || !absl::SimpleAtod(f[1], &step.sampling_rate) ||
        !absl::SimpleAtod(f[2], &step.noise_multiplier) || !absl::SimpleAtoi(f[3], &step.steps)) {
      return absl::InvalidArgumentError(absl::StrCat("privacy ledger line ", i + 1, " is malformed"));
    }
    FEDLOG_RETURN_IF_ERROR(Annotate(ledger.Charge(round, step), absl::StrCat("privacy ledger line ", i + 1)));
  }
  return ledger;
}

}  // namespace fedlog::privacy
