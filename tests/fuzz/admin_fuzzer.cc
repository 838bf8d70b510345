// libFuzzer target for the aggregator's Admin service (admin_fuzz_entry.h). Build with clang and
// -DFEDLOG_FUZZ=ON (docs/SECURITY.md, "Fuzzing the federation handlers"); run:
//   FEDLOG_SOURCE_DIR=$PWD build-fuzz/fuzz/admin_fuzzer -max_total_time=600 -max_len=4096 -timeout=30 \
//       -len_control=0 -detect_leaks=0 /tmp/adminfuzz_corpus tests/fuzz/corpus/admin
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/admin_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fedlog::fuzz::FuzzAdminOneInput(data, size);
}
