// Fuzz entry for the aggregator's Federation service handlers: an in-process aggregator (real mTLS on
// loopback, a PKI made at first use by certs/make-dev-pki.sh, an active run with short deadlines and stream
// timeouts) receives, per input, a short program of calls decoded from the bytes: Hello, GetTask, Heartbeat and
// ReportEvaluation with mutated or raw protobuf requests; downloads with arbitrary versions and chunk sizes, read
// whole, partly or cancelled; uploads built from the open round's task with mutated headers, payloads and chunk
// sequences (short, long, repeated headers, cut or cancelled), and two uploads of one site at once. Every call
// has a deadline. A finding is a crash, a sanitizer report, a hang, or a broken invariant: an upload accepted
// that does not carry the round's exact update bytes, or a download whose bytes fail its manifest's digest.
// Used by the libFuzzer binary federation_fuzzer (clang, -DFEDLOG_FUZZ=ON) and by federation_fuzz_replay_test.
// Not thread-safe: one input at a time.
#ifndef FEDLOG_TESTS_FUZZ_FEDERATION_FUZZ_ENTRY_H_
#define FEDLOG_TESTS_FUZZ_FEDERATION_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>

namespace fedlog::fuzz {

// Runs one input; always returns 0. Aborts (a finding) on a broken invariant or when the aggregator cannot start.
int FuzzFederationOneInput(const uint8_t* data, size_t size);

// Uploads the entry saw accepted so far (the replay test checks that its corpus reaches acceptance).
int64_t AcceptedUploads();

}  // namespace fedlog::fuzz

#endif  // FEDLOG_TESTS_FUZZ_FEDERATION_FUZZ_ENTRY_H_
