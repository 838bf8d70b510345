// SiteLedger: a site's own record of the differential privacy it has spent, per run and round, across every run
// it took part in. It is kept in the site's data dir (privacy_ledger.txt), replaced atomically on each charge,
// and read back at start, so a restart neither forgets a spend nor double-counts one. Rounds of all runs compose
// into one RDP curve (common/privacy/ledger.h), which is what the site policy's max_epsilon bounds
// (client/privacy_policy.h). The file records mechanisms (q, sigma, steps), never epsilons, so a reader
// recomputes what was spent instead of trusting a stored figure.
// A file that cannot be parsed is an error naming the file and line; the ledger never overwrites it (nothing is
// lost: the operator repairs or moves it). Thread-compatible: the site daemon's round loop owns it.
#ifndef FEDLOG_CLIENT_SITE_LEDGER_H_
#define FEDLOG_CLIENT_SITE_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/privacy/ledger.h"

namespace fedlog::client {

struct SiteLedgerEntry {
  int64_t run_id = 0;
  int32_t round = 0;
  privacy::MechanismStep step;
};

class SiteLedger {
 public:
  // The ledger file of a data dir.
  static std::string PathIn(const std::string& data_dir);
  // Reads `path` (a missing file is an empty ledger). DataLoss naming the file and line for a file that is not a
  // ledger or holds an invalid entry; InvalidArgument for a delta outside (0, 1).
  static absl::StatusOr<SiteLedger> Open(const std::string& path, double delta);

  // The site's cumulative epsilon (at the ledger's delta) if `step` were charged now; nothing is changed.
  absl::StatusOr<double> EpsilonIfCharged(const privacy::MechanismStep& step) const;
  // Appends run `run_id` round `round` with `step` and writes the file (atomic replace) before returning; on a
  // write error nothing is charged in memory either.
  absl::Status Charge(int64_t run_id, int32_t round, const privacy::MechanismStep& step);

  double epsilon() const { return ledger_.epsilon(); }  // over every run
  double delta() const { return ledger_.delta(); }
  // Epsilon of run `run_id`'s rounds alone (0 when it has none).
  absl::StatusOr<double> RunEpsilon(int64_t run_id) const;
  const std::vector<SiteLedgerEntry>& entries() const { return entries_; }

 private:
  SiteLedger(std::string path, privacy::PrivacyLedger ledger) : path_(std::move(path)), ledger_(std::move(ledger)) {}
  std::string Serialize() const;

  std::string path_;
  privacy::PrivacyLedger ledger_;  // charged with sequence numbers 1..n (rounds of different runs interleave)
  std::vector<SiteLedgerEntry> entries_;
};

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SITE_LEDGER_H_
