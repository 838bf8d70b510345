// Fuzz entry for the aggregator's Admin service (proto/fedlog/v1/admin.proto): an in-process aggregator (real
// mTLS on loopback, fuzz_aggregator.h) receives, per input, a short program of admin calls decoded from the bytes:
// StartRun with plans built field by field from interesting and raw values or parsed from raw bytes, StopRun,
// GetRun and WatchRun (read briefly, then cancelled) with arbitrary run ids, ListSites, ListModels,
// PromoteModel with arbitrary versions, RollbackModel, RevokeSite, UnrevokeSite, ForgetSite and AdmitSources
// with odd site ids and source lists, every method with a raw protobuf request, and a site's certificate
// calling a random admin method. Every call has a deadline.
// A finding is a crash, a sanitizer report, a hang, or a broken invariant:
//  - a refused call whose status is UNKNOWN or INTERNAL, or whose message is empty (a site calling an admin
//    method: anything but PERMISSION_DENIED);
//  - a refused call after which the sites, the models, the promoted version or the active run differ;
//  - a started run whose stored plan fails the run-start checks (server::ValidateRunPlan) or changes under them;
//  - a listed site whose id is not a valid peer id (common/net/peer_id.h);
//  - after the input, an aggregator that does not answer GetRun or a site's federation Hello.
// Used by the libFuzzer binary admin_fuzzer (clang, -DFEDLOG_FUZZ=ON) and by admin_fuzz_replay_test.
// Not thread-safe: one input at a time.
#ifndef FEDLOG_TESTS_FUZZ_ADMIN_FUZZ_ENTRY_H_
#define FEDLOG_TESTS_FUZZ_ADMIN_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>

namespace fedlog::fuzz {

// Runs one input; always returns 0. Aborts (a finding) on a broken invariant or when the aggregator cannot start.
int FuzzAdminOneInput(const uint8_t* data, size_t size);

// Calls the entry saw succeed and refused so far (the replay test checks that its corpus reaches both, and
// that StartRun succeeded).
struct AdminFuzzCounts {
  int64_t ok = 0;
  int64_t refused = 0;
  int64_t runs_started = 0;
};
AdminFuzzCounts AdminCounts();

}  // namespace fedlog::fuzz

#endif  // FEDLOG_TESTS_FUZZ_ADMIN_FUZZ_ENTRY_H_
