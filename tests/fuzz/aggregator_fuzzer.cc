// libFuzzer target over the site's checks of what its aggregator sends (aggregator_fuzz_entry.h): built only with
// clang and -DFEDLOG_FUZZ=ON; run: build-fuzz/fuzz/aggregator_fuzzer -max_total_time=60
#include "tests/fuzz/aggregator_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fedlog::fuzz::FuzzAggregatorMessageOneInput(data, size);
}
