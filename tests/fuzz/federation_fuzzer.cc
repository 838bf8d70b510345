// libFuzzer target for the aggregator's Federation service handlers (federation_fuzz_entry.h). Build with clang
// and -DFEDLOG_FUZZ=ON (docs/SECURITY.md, "Fuzzing the federation handlers"); run:
//   build-fuzz/fuzz/federation_fuzzer -max_total_time=1800 -max_len=4096 -timeout=30 /tmp/fedfuzz_corpus
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/federation_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fedlog::fuzz::FuzzFederationOneInput(data, size);
}
