// libFuzzer target: built only with clang and -DFEDLOG_FUZZ=ON (see docs/PARSING.md).
#include "tests/fuzz/parse_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fedlog::logparse::FuzzParseOneInput(data, size);
}
