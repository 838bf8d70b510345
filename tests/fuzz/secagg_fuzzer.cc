// libFuzzer target for the aggregator's secure-aggregation handlers and DeclineRound (secagg_fuzz_entry.h).
// Build with clang and -DFEDLOG_FUZZ=ON (docs/SECURITY.md, "Fuzzing the federation handlers"); run:
//   FEDLOG_SOURCE_DIR=$PWD build-fuzz/fuzz/secagg_fuzzer -max_total_time=600 -max_len=4096 -timeout=60 \
//       -len_control=0 -detect_leaks=0 /tmp/secaggfuzz_corpus tests/fuzz/corpus/secagg
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/secagg_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fedlog::fuzz::FuzzSecAggOneInput(data, size);
}
