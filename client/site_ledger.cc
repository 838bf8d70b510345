#include "client/site_ledger.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::client {
namespace {

constexpr char kHeader[] = "fedlog-site-ledger v1";

absl::StatusOr<privacy::PrivacyLedger> EmptyLedger(double delta) {
  privacy::LedgerOptions options;
  options.delta = delta;  // no target: the site policy decides what is too much
  return privacy::PrivacyLedger::Create(options);
}

// One "run round q sigma steps" line; false when it is not one.
bool ParseEntry(absl::string_view line, SiteLedgerEntry* e) {
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  int64_t round = 0;
  return f.size() == 5 && absl::SimpleAtoi(f[0], &e->run_id) && absl::SimpleAtoi(f[1], &round) &&
         absl::SimpleAtod(f[2], &e->step.sampling_rate) && absl::SimpleAtod(f[3], &e->step.noise_multiplier) &&
         absl::SimpleAtoi(f[4], &e->step.steps) && e->run_id > 0 && round > 0 && round <= INT32_MAX &&
         (e->round = static_cast<int32_t>(round), true);
}

}  // namespace

std::string SiteLedger::PathIn(const std::string& data_dir) { return JoinPath(data_dir, "privacy_ledger.txt"); }

absl::StatusOr<SiteLedger> SiteLedger::Open(const std::string& path, double delta) {
  FEDLOG_ASSIGN_OR_RETURN(privacy::PrivacyLedger empty, EmptyLedger(delta));
  SiteLedger ledger(path, std::move(empty));
  if (!FileExists(path)) return ledger;
  FEDLOG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  auto corrupt = [&](size_t line, absl::string_view why) {
    return absl::DataLossError(absl::StrCat(
        "privacy ledger ", path, " line ", line, ": ", why,
        "; the file is left as it is (repair it or move it away, knowing the epsilon it records is then forgotten)"));
  };
  if (lines.empty() || lines[0] != kHeader) return corrupt(1, absl::StrCat("not a site ledger (no '", kHeader, "')"));
  for (size_t i = 1; i < lines.size(); ++i) {
    SiteLedgerEntry e;
    if (!ParseEntry(lines[i], &e)) return corrupt(i + 1, "expected 'run round q sigma steps'");
    if (absl::Status st = ledger.ledger_.Charge(static_cast<int64_t>(i), e.step); !st.ok()) {
      return corrupt(i + 1, st.message());
    }
    ledger.entries_.push_back(e);
  }
  return ledger;
}

absl::StatusOr<double> SiteLedger::EpsilonIfCharged(const privacy::MechanismStep& step) const {
  FEDLOG_ASSIGN_OR_RETURN(privacy::EpsilonAtOrder e, ledger_.EpsilonIfCharged(step));
  return e.epsilon;
}

std::string SiteLedger::Serialize() const {
  std::string out = absl::StrCat(kHeader, "\n");
  for (const SiteLedgerEntry& e : entries_) {
    absl::StrAppendFormat(&out, "%d %d %.17g %.17g %d\n", e.run_id, e.round, e.step.sampling_rate,
                          e.step.noise_multiplier, e.step.steps);
  }
  return out;
}

absl::Status SiteLedger::Charge(int64_t run_id, int32_t round, const privacy::MechanismStep& step) {
  if (run_id <= 0 || round <= 0) return absl::InvalidArgumentError("ledger entries need a run and a round > 0");
  privacy::PrivacyLedger next = ledger_;
  FEDLOG_RETURN_IF_ERROR(next.Charge(static_cast<int64_t>(entries_.size()) + 1, step));
  entries_.push_back({run_id, round, step});
  if (absl::Status st = WriteFileAtomic(path_, Serialize()); !st.ok()) {
    entries_.pop_back();
    return Annotate(st, absl::StrCat("writing the privacy ledger ", path_));
  }
  ledger_ = std::move(next);
  return absl::OkStatus();
}

absl::StatusOr<double> SiteLedger::RunEpsilon(int64_t run_id) const {
  FEDLOG_ASSIGN_OR_RETURN(privacy::PrivacyLedger run, EmptyLedger(ledger_.delta()));
  int64_t n = 0;
  for (const SiteLedgerEntry& e : entries_) {
    if (e.run_id == run_id) FEDLOG_RETURN_IF_ERROR(run.Charge(++n, e.step));
  }
  return run.epsilon();
}

}  // namespace fedlog::client
