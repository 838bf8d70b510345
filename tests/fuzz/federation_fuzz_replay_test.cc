// Replays seeded random programs through the federation handler fuzz entry, so every build exercises it (the
// libFuzzer binary needs clang), and checks that the entry reaches the paths that matter: an accepted upload.
#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/fuzz/federation_fuzz_entry.h"

namespace fedlog::fuzz {
namespace {

int RunProgram(const std::string& input) {
  return FuzzFederationOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(FederationFuzzReplayTest, AWellFormedUploadIsAccepted) {
  // Ensure a run; one upload op: header from the task, the all-zero update, whole, by site fuzz-a.
  const std::string program("\x00\x03\x00\x02\x00\x02", 6);
  const int64_t before = AcceptedUploads();
  for (int i = 0; i < 60 && AcceptedUploads() == before; ++i) EXPECT_EQ(RunProgram(program), 0);
  EXPECT_GT(AcceptedUploads(), before);
}

TEST(FederationFuzzReplayTest, SeededRandomProgramsKeepInvariants) {
  std::mt19937 rng(20261205);
  for (int i = 0; i < 120; ++i) {
    std::string input(rng() % 700, '\0');
    for (char& c : input) c = static_cast<char>(rng() & 0xff);
    EXPECT_EQ(RunProgram(input), 0);
  }
}

}  // namespace
}  // namespace fedlog::fuzz
