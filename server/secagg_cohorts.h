// One attempt of a secure-aggregation round as the coordinator holds it: a single SecAggRound over every
// participant (the usual case), or, after an attempt's unmasked sum failed its check, g >= 2 disjoint cohorts,
// each a complete SecAggRound with its own session id, roster and threshold (docs/rules/s25-cohorts.md). A site
// takes part in exactly one cohort and sees an ordinary secure round. Cohorts whose sums pass are combined
// section by section (CombineCohortSums); failing cohorts are dropped.
// Thread-compatible: the Coordinator calls every method under its own lock.
#ifndef FEDLOG_SERVER_SECAGG_COHORTS_H_
#define FEDLOG_SERVER_SECAGG_COHORTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/kind_sections.h"
#include "common/secagg/quantize.h"
#include "common/secagg/update_vector.h"
#include "fedlog/v1/federation.pb.h"
#include "server/secagg_round.h"
#include "server/state_store.h"

namespace fedlog::server {

// The cohorts for `sites` when each must hold at least `min_size` (>= 1) sites: g = floor(n / min_size)
// cohorts, sizes differing by at most one, after a Fisher-Yates shuffle whose indices are drawn by rejection
// sampling from OpenSSL RAND_bytes. Each cohort is sorted. Empty when g < 2 (the attempt stays whole).
// InvalidArgument for min_size < 1 or repeated sites; the CSPRNG's error when it fails.
absl::StatusOr<std::vector<std::vector<std::string>>> DrawCohorts(const std::vector<std::string>& sites,
                                                                  int min_size);

// A uniform draw from [0, bound) (bound >= 1) from RAND_bytes, unbiased (rejection of the top partial range).
absl::StatusOr<uint64_t> SecretIndexBelow(uint64_t bound);

// One passing cohort's decoded sum and the layout it was decoded under.
struct CohortSum {
  const secagg::UpdateVectorLayout* layout = nullptr;
  const secagg::DecodedSum* sum = nullptr;
};

// The passing cohorts' sums as one sum over a union layout: the shared part (shared tensors, prototypes.global
// and its presence lane) added lane by lane, one adapter section per source of any cohort (a cohort without the
// source adds zeros, presence included), the release section added; no kind sections (CombineKindSums). The
// weight sums and roundings add up. So MeanFromSum over the result divides each section by the sum of its
// weight (presence) sums. InvalidArgument when the layouts' shared parts, release sections or a source's
// section lengths differ, or a sum's length does not match its layout; FailedPrecondition for no cohort.
absl::StatusOr<std::pair<secagg::UpdateVectorLayout, secagg::DecodedSum>> CombineCohortSums(
    const std::vector<CohortSum>& cohorts);

// The kind sections of the passing cohorts as one list, by source ascending: counts and sites added over the
// cohorts whose section passed its checks; a source whose every section failed keeps the first failure.
std::vector<secagg::KindSectionSum> CombineKindSums(const std::vector<std::vector<secagg::KindSectionSum>>& cohorts);

// CohortVerdict (what one spoiled cohort attempt says about its sites) is server/state_store.h's: the run's
// verdicts are stored with its secure-aggregation state (docs/rules/s26-securestate.md).

// The rule's number of spoiled cohort attempts a suspect must have been in, each.
inline constexpr size_t kSuspicionWindow = 3;

// Clean attempts in a row after which a run leaves cohort mode (docs/rules/s26-securestate.md: R, the
// suspicion window, more than the one round a suspect sits out).
inline constexpr int kCohortModeCleanAttempts = static_cast<int>(kSuspicionWindow);

// The site to sit out the next round, given the run's spoiled cohort attempts, oldest first: when the last
// kSuspicionWindow of them have exactly one site in common among their suspects and every other site they
// name (suspect or cleared) was cleared in at least one of them. Empty otherwise (too few attempts, or no
// single site stands out).
std::string SitOutSuspect(const std::vector<CohortVerdict>& verdicts);

// What a finished attempt gives the coordinator to apply.
struct SecAggOutcome {
  fl::TensorBundle mean;
  std::vector<secagg::KindSectionSum> kind_sums;
  int64_t samples = 0;
  double mean_loss = 0;
  int survivors = 0;
  int dropped = 0;  // sites dropped after sharing, over the passing cohorts
};

class SecAggAttempt {
 public:
  // `sessions`: one SecAggRound (a whole attempt) or the cohorts (each created with keep_sum), with disjoint
  // participants.
  explicit SecAggAttempt(std::vector<std::unique_ptr<SecAggRound>> sessions);

  bool cohorts() const { return sessions_.size() > 1; }
  const std::vector<std::unique_ptr<SecAggRound>>& sessions() const { return sessions_; }
  // The session `site` takes part in, or nullptr.
  SecAggRound* ForSite(const std::string& site) const;
  // The session with `session_id`, or nullptr.
  SecAggRound* ForSession(const std::string& session_id) const;
  // As SecAggRound's, for the site's own session (false / an empty config for a site of none).
  bool WantsTask(const std::string& site) const;
  v1::SecAggConfig ConfigFor(const std::string& site) const;
  // Advances every unfinished session; true when any step changed.
  bool Advance(int64_t now_ms, const std::set<std::string>& online);
  bool finished() const;
  // Once finished: the sessions that ended done.
  std::vector<SecAggRound*> Passed() const;
  // Whether some session's sum failed its check (SecAggRound::spoiled).
  bool spoiled() const;
  int64_t bytes_up() const;
  // Once finished with at least one session done: the mean to apply (a cohort attempt: the passing cohorts'
  // sums combined, CombineCohortSums then MeanFromSum) with the survivors' samples and loss. Moves the
  // sessions' results out; call once. DataLoss / InvalidArgument from the combination.
  absl::StatusOr<SecAggOutcome> TakeOutcome();
  // For logs: "cohorts of 3, 3 sites: 1 passed (a...), 1 failed (b...: why)"; never a value.
  std::string Describe() const;
  // Once finished, for a cohort attempt some cohort of which was spoiled: its suspects and cleared sites.
  CohortVerdict Verdict() const;

 private:
  std::vector<std::unique_ptr<SecAggRound>> sessions_;
  std::map<std::string, size_t> session_of_;  // site -> index in sessions_
};

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_SECAGG_COHORTS_H_
