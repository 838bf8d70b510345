// What the crash sweep (crash_sweep_test.cc) reads from the files of a federation between kills: the
// aggregator's database (rounds done, model rows and their files), and each site's privacy ledger and labels
// store. Snapshots are taken with the processes running (SQLite readers see only committed transactions); the
// checks compare a later snapshot with an earlier one (docs/rules/s24-crashsafe.md lists the invariants).
// Reads only; thread-compatible.
#ifndef FEDLOG_TESTS_INTEGRATION_CRASH_SWEEP_STATE_H_
#define FEDLOG_TESTS_INTEGRATION_CRASH_SWEEP_STATE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::testing {

struct SiteState {
  std::set<std::string> ledger_entries;  // "run round q sigma steps" lines of privacy_ledger.txt
  double epsilon = 0;                     // the ledger's cumulative epsilon
  std::set<std::string> labels;           // "source|label|origin|line" rows of detect.db
};

struct FederationState {
  std::set<std::string> rounds_done;            // "run/round/attempt -> model_out" of rounds in state done
  std::map<int64_t, std::string> model_digests;  // version -> manifest sha256 (every row, deleted or not)
  std::map<std::string, SiteState> sites;        // by site id
};

// Reads the aggregator database `agg_dir`/aggregator.db (read-only; a missing file is an empty state) and, for
// each of `site_dirs` (site id -> data dir), its ledger (at `delta`) and labels store.
absl::StatusOr<FederationState> ReadFederationState(const std::string& agg_dir,
                                                    const std::map<std::string, std::string>& site_dirs,
                                                    double delta);

// The aggregator database's integrity (PRAGMA integrity_check answers "ok") and its model files: every row not
// deleted by retention names an existing, non-temporary file whose SHA-256 is the manifest's. Each problem is
// one line of the result (empty when there is none).
std::vector<std::string> CheckAggregatorFiles(const std::string& agg_dir);

// What `before` holds that `after` lost (rounds done, model rows, ledger entries, labels) and ledger epsilons
// that went down, one line each (empty when nothing was lost).
std::vector<std::string> LostSince(const FederationState& before, const FederationState& after);

// Temporary files (names containing ".tmp") under `dir`, recursively.
std::vector<std::string> TempFilesUnder(const std::string& dir);

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_CRASH_SWEEP_STATE_H_
