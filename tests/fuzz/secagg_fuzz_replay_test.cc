// Replays the committed seed corpus (tests/fuzz/corpus/secagg: one program per file) and a few mutations of it
// through the secure-aggregation fuzz entry, so every build exercises it (the libFuzzer binary needs clang), and
// checks that the programs reach completed rounds and refused extra messages. With FEDLOG_FUZZ_SOAK_S=N the
// mutations go on for N seconds (fuzz_aggregator.h SoakSeconds).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/fuzz_aggregator.h"
#include "tests/fuzz/secagg_fuzz_entry.h"

namespace fedlog::fuzz {
namespace {

int RunProgram(const std::string& input) {
  return FuzzSecAggOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(SecAggFuzzReplayTest, CommittedCorpusKeepsInvariants) {
  const std::vector<std::string> corpus = CorpusPrograms("secagg");
  ASSERT_GE(corpus.size(), 4u);
  const SecAggFuzzCounts before = SecAggCounts();
  for (size_t i = 0; i < corpus.size(); ++i) EXPECT_EQ(RunProgram(corpus[i]), 0) << "program " << i;
  const SecAggFuzzCounts after = SecAggCounts();
  EXPECT_GT(after.rounds, before.rounds);
  EXPECT_GT(after.rounds_done, before.rounds_done);
  EXPECT_GT(after.injected, before.injected);
  EXPECT_GT(after.injected_refused, before.injected_refused);
}

TEST(SecAggFuzzReplayTest, MutatedProgramsKeepInvariants) {
  const std::vector<std::string> corpus = CorpusPrograms("secagg");
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(20261207);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(SoakSeconds());
  int64_t programs = 0;
  for (int i = 0; i < 3 || std::chrono::steady_clock::now() < until; ++i, ++programs) {
    EXPECT_EQ(RunProgram(MutateProgram(corpus[rng() % corpus.size()], &rng)), 0);
  }
  const SecAggFuzzCounts c = SecAggCounts();
  std::printf("secagg fuzz replay: %lld programs; rounds %lld, done %lld; extra messages %lld, refused %lld\n",
              static_cast<long long>(programs), static_cast<long long>(c.rounds),
              static_cast<long long>(c.rounds_done), static_cast<long long>(c.injected),
              static_cast<long long>(c.injected_refused));
}

}  // namespace
}  // namespace fedlog::fuzz
