// Replays the committed seed corpus (tests/fuzz/corpus/secagg: one program per file, regression seeds of
// findings among them) and a few seeded random programs through the secure-aggregation fuzz entry, so every
// build exercises it (the libFuzzer binary needs clang), and checks that the programs reach completed rounds and
// refused extra messages.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tests/fuzz/secagg_fuzz_entry.h"

#ifndef FEDLOG_FUZZ_SOURCE_DIR
#define FEDLOG_FUZZ_SOURCE_DIR "."
#endif

namespace fedlog::fuzz {
namespace {

int RunProgram(const std::string& input) {
  return FuzzSecAggOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(SecAggFuzzReplayTest, CommittedCorpusKeepsInvariants) {
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(src ? src : FEDLOG_FUZZ_SOURCE_DIR) / "tests/fuzz/corpus/secagg";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 4u);
  const SecAggFuzzCounts before = SecAggCounts();
  for (const auto& f : files) {
    absl::StatusOr<std::string> input = ReadFile(f.string());
    ASSERT_TRUE(input.ok()) << input.status();
    EXPECT_EQ(RunProgram(*input), 0) << f;
  }
  const SecAggFuzzCounts after = SecAggCounts();
  EXPECT_GT(after.rounds, before.rounds);
  EXPECT_GT(after.rounds_done, before.rounds_done);
  EXPECT_GT(after.injected, before.injected);
  EXPECT_GT(after.injected_refused, before.injected_refused);
}

TEST(SecAggFuzzReplayTest, SeededRandomProgramsKeepInvariants) {
  std::mt19937 rng(20261207);
  for (int i = 0; i < 4; ++i) {
    std::string input(rng() % 300, '\0');
    for (char& c : input) c = static_cast<char>(rng() & 0xff);
    EXPECT_EQ(RunProgram(input), 0);
  }
}

}  // namespace
}  // namespace fedlog::fuzz
