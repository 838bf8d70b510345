// The federation's message-kind counts under secure aggregation and across rounds that bring none
// (docs/PRIVACY.md "Message-kind counts under secure aggregation"): which sources get a masked kind section in
// a round (common/secagg/kind_sections.h), how the checked sections of the unmasked sum become the manifest's
// kind_counts, and how a model version whose round brought no counts for a source keeps its parent's.
// The plain path (counts in the clear header) is server/coordinator_kinds.h.
// Thread-safe: stateless functions.
#ifndef FEDLOG_SERVER_COORDINATOR_KINDS_SECAGG_H_
#define FEDLOG_SERVER_COORDINATOR_KINDS_SECAGG_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/secagg/kind_sections.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::server {

// Whether a round of `plan` takes kind counts at all: not under any DP mode (the accountant does not cover them).
bool TakesKindCounts(const v1::RunPlan& plan);

// The most kind sections one round carries: each adds 32,769 lanes to every site's vector, so a federation
// whose sites declare many shared sources must not grow the vector without bound (8: 262,152 lanes, 1 MB per
// site in 32-bit lanes).
inline constexpr int kMaxKindSections = 8;

// The kind groups of a secure-aggregation round: each source that at least `threshold` of the participants
// declared (`declared`: per participant, the source names of its last Hello), with those participants in the
// given order; when more than `max_sections` sources qualify, the largest groups (ties: by name). Sources
// without a group get no section: their counts stay at the sites (and the manifest carries the last ones).
std::map<std::string, std::vector<std::string>> KindGroups(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& declared, int threshold,
    int max_sections = kMaxKindSections);

// The manifest's kind_counts from the checked kind sections of a round's unmasked sum: per section that passed
// its checks, the counts with every bucket whose two classes together hold fewer than `suppress_below` zeroed
// and left out; sources sorted by name, sources left empty dropped. A section that failed its checks is
// dropped with a warning naming the source and the reason (no site can be named: the sum is all there is).
std::vector<v1::KindCounts> KindCountsFromSecAgg(const std::vector<secagg::KindSectionSum>& sums,
                                                 double suppress_below);

// Gives `next` (a new version whose kind_counts hold what its round brought) the parent's counts of every
// source the round brought none for, and lists those sources in kind_counts_carried. No new information is
// released: the parent's manifest already holds them. kind_counts stay sorted by source.
void CarryForwardKindCounts(const v1::ModelManifest& parent, v1::ModelManifest* next);

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_COORDINATOR_KINDS_SECAGG_H_
