// Fuzz entry for the aggregator's secure-aggregation handlers (SecAggAdvertise, SecAggShareKeys, SecAggUnmask,
// SecAggPoll, the masked UploadUpdate) and DeclineRound, in an active secure run: an in-process aggregator
// (fuzz_aggregator.h) runs a run with min_sites 3 and threshold 2, and per input three sites run one round with
// the client's own steps (client/secagg_client.h). Site fuzz-a's steps go through a transport that the input
// drives: before or after each honest message it sends mutated copies (session id, indices, key sizes, shares and
// their addresses, reveals, poll steps), messages of another step out of order, a duplicate masked upload or a
// DeclineRound with true or mutated run and round; it may also replace a message or drop out at any step. Site
// fuzz-d, not a participant, sends mutated messages of every step with the round's session id meanwhile.
// A finding is a crash, a sanitizer report, a hang, or a broken invariant:
//  - a secagg message of fuzz-d accepted (it is no participant), or a refusal of bad input that is UNKNOWN,
//    INTERNAL or has no message;
//  - when every message fuzz-a sent besides its honest ones was refused (it may have dropped out or declined):
//    the two honest sites not both finishing their steps, or the round not done within its deadline (a refused
//    secagg message never fails the round for the other sites);
//  - after the input, an aggregator that does not answer GetRun or a site's Hello.
// Used by the libFuzzer binary secagg_fuzzer (clang, -DFEDLOG_FUZZ=ON) and by secagg_fuzz_replay_test.
// Not thread-safe: one input at a time.
#ifndef FEDLOG_TESTS_FUZZ_SECAGG_FUZZ_ENTRY_H_
#define FEDLOG_TESTS_FUZZ_SECAGG_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>

namespace fedlog::fuzz {

// Runs one input; always returns 0. Aborts (a finding) on a broken invariant or when the aggregator cannot start.
int FuzzSecAggOneInput(const uint8_t* data, size_t size);

// What the entry saw so far (the replay test checks that its corpus reaches them).
struct SecAggFuzzCounts {
  int64_t rounds = 0;           // rounds the three sites were handed together
  int64_t rounds_done = 0;      // of those, rounds the aggregator completed
  int64_t injected = 0;         // mutated, out-of-order or outsider messages sent
  int64_t injected_refused = 0;
};
SecAggFuzzCounts SecAggCounts();

}  // namespace fedlog::fuzz

#endif  // FEDLOG_TESTS_FUZZ_SECAGG_FUZZ_ENTRY_H_
