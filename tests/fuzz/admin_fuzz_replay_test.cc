// Replays the committed seed corpus (tests/fuzz/corpus/admin: one program per file, regression seeds of
// findings among them) and mutations of it through the Admin service fuzz entry, so every build exercises it
// (the libFuzzer binary needs clang), and checks that the programs reach accepted calls, refused calls and a
// started run. With FEDLOG_FUZZ_SOAK_S=N the mutations go on for N seconds (fuzz_aggregator.h SoakSeconds).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/admin_fuzz_entry.h"
#include "tests/fuzz/fuzz_aggregator.h"

namespace fedlog::fuzz {
namespace {

int RunProgram(const std::string& input) {
  return FuzzAdminOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(AdminFuzzReplayTest, CommittedCorpusKeepsInvariants) {
  const std::vector<std::string> corpus = CorpusPrograms("admin");
  ASSERT_GE(corpus.size(), 4u);
  const AdminFuzzCounts before = AdminCounts();
  for (size_t i = 0; i < corpus.size(); ++i) EXPECT_EQ(RunProgram(corpus[i]), 0) << "program " << i;
  const AdminFuzzCounts after = AdminCounts();
  EXPECT_GT(after.ok, before.ok);
  EXPECT_GT(after.refused, before.refused);
  EXPECT_GT(after.runs_started, before.runs_started);
}

TEST(AdminFuzzReplayTest, MutatedAndRandomProgramsKeepInvariants) {
  const std::vector<std::string> corpus = CorpusPrograms("admin");
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(20261207);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(SoakSeconds());
  int64_t programs = 0;
  for (int i = 0; i < 120 || std::chrono::steady_clock::now() < until; ++i, ++programs) {
    std::string input;
    if (i % 4 == 3) {
      input.resize(rng() % 400);
      for (char& c : input) c = static_cast<char>(rng() & 0xff);
    } else {
      input = MutateProgram(corpus[rng() % corpus.size()], &rng);
    }
    EXPECT_EQ(RunProgram(input), 0);
  }
  const AdminFuzzCounts c = AdminCounts();
  std::printf("admin fuzz replay: %lld programs; calls accepted %lld, refused %lld; runs started %lld\n",
              static_cast<long long>(programs), static_cast<long long>(c.ok), static_cast<long long>(c.refused),
              static_cast<long long>(c.runs_started));
}

}  // namespace
}  // namespace fedlog::fuzz
