// Fuzz entry for the site's checks of what its aggregator sends (client/aggregator_checks.h, docs/SECURITY.md
// "The site against its aggregator"): the first byte picks a message (HelloResponse, TaskResponse,
// ModelManifest, SecAggPollResponse, or a tensor bundle), the rest is parsed as it and checked as the daemon
// checks it; a bundle that decodes is checked against a small model's schema. Invariants (abort on violation):
// every refusal is marked (IsRefusal) and printable, and what passes is within the documented bounds (a passed
// bundle's values are finite, a passed manifest's size within max_model_bytes, a passed plan's counts within
// their maxima). Shared by the libFuzzer target aggregator_fuzzer (clang, -DFEDLOG_FUZZ=ON) and
// aggregator_fuzz_replay_test, which runs in every build. Not thread-safe.
#ifndef FEDLOG_TESTS_FUZZ_AGGREGATOR_FUZZ_ENTRY_H_
#define FEDLOG_TESTS_FUZZ_AGGREGATOR_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace fedlog::fuzz {

// Runs one input; always returns 0.
int FuzzAggregatorMessageOneInput(const uint8_t* data, size_t size);

// Inputs that passed every check so far (the replay test checks that its corpus reaches acceptance).
int64_t AggregatorMessagesAccepted();

// Well-formed seeds, one per selector value 0..4: the selector byte followed by a serialized message that
// passes its checks.
std::string AggregatorSeed(int selector);

}  // namespace fedlog::fuzz

#endif  // FEDLOG_TESTS_FUZZ_AGGREGATOR_FUZZ_ENTRY_H_
