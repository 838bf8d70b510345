// libFuzzer target over the site's checks of what its aggregator sends (aggregator_fuzz_entry.h): built only with
// clang and -DFEDLOG_FUZZ=ON; run (docs/SECURITY.md, "The site against its aggregator"):
//   FEDLOG_AGGREGATOR_FUZZ_SEEDS=/tmp/aggfuzz_corpus build-fuzz/fuzz/aggregator_fuzzer -max_total_time=720 \
//       /tmp/aggfuzz_corpus
// FEDLOG_AGGREGATOR_FUZZ_SEEDS, when set, names a directory the entry's five well-formed seeds (AggregatorSeed)
// are written into before libFuzzer reads its corpus, so a run starts from messages that pass their checks.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "tests/fuzz/aggregator_fuzz_entry.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* dir = std::getenv("FEDLOG_AGGREGATOR_FUZZ_SEEDS");
  if (dir == nullptr) return 0;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (int selector = 0; selector < 5; ++selector) {
    const std::filesystem::path path = std::filesystem::path(dir) / ("seed" + std::to_string(selector));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << fedlog::fuzz::AggregatorSeed(selector);
    if (!out) {
      std::cerr << "cannot write the seed " << path << "\n";
      std::exit(1);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fedlog::fuzz::FuzzAggregatorMessageOneInput(data, size);
}
