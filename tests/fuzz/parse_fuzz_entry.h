// The fuzz entry point over log-format parsing and Drain, shared by the libFuzzer target (parse_fuzzer.cc,
// clang + -DFEDLOG_FUZZ=ON) and the corpus-replay gtest that runs in every build. It checks invariants and
// aborts on a violation, so both a fuzzer crash and a test failure point at the input.
#ifndef FEDLOG_TESTS_FUZZ_PARSE_FUZZ_ENTRY_H_
#define FEDLOG_TESTS_FUZZ_PARSE_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>

namespace fedlog::logparse {

// The first byte picks a parser (the built-ins, syslog, JSON lines, a custom format) and Drain options; the
// rest is split into lines, parsed, learnt, matched and saved/restored. Always returns 0.
int FuzzParseOneInput(const uint8_t* data, size_t size);

}  // namespace fedlog::logparse

#endif  // FEDLOG_TESTS_FUZZ_PARSE_FUZZ_ENTRY_H_
