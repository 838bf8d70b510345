// Replays the committed seed corpus (tests/fuzz/corpus/admin: one program per file, regression seeds of
// findings among them) and seeded random programs through the Admin service fuzz entry, so every build
// exercises it (the libFuzzer binary needs clang), and checks that the programs reach accepted calls, refused
// calls and a started run.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tests/fuzz/admin_fuzz_entry.h"

#ifndef FEDLOG_FUZZ_SOURCE_DIR
#define FEDLOG_FUZZ_SOURCE_DIR "."
#endif

namespace fedlog::fuzz {
namespace {

int RunProgram(const std::string& input) {
  return FuzzAdminOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::vector<std::filesystem::path> CorpusFiles() {
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  const std::filesystem::path dir = std::filesystem::path(src ? src : FEDLOG_FUZZ_SOURCE_DIR) / "tests/fuzz/corpus/admin";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(AdminFuzzReplayTest, CommittedCorpusKeepsInvariants) {
  const std::vector<std::filesystem::path> files = CorpusFiles();
  ASSERT_GE(files.size(), 4u);
  const AdminFuzzCounts before = AdminCounts();
  for (const auto& f : files) {
    absl::StatusOr<std::string> input = ReadFile(f.string());
    ASSERT_TRUE(input.ok()) << input.status();
    EXPECT_EQ(RunProgram(*input), 0) << f;
  }
  const AdminFuzzCounts after = AdminCounts();
  EXPECT_GT(after.ok, before.ok);
  EXPECT_GT(after.refused, before.refused);
  EXPECT_GT(after.runs_started, before.runs_started);
}

TEST(AdminFuzzReplayTest, SeededRandomProgramsKeepInvariants) {
  std::mt19937 rng(20261207);
  for (int i = 0; i < 60; ++i) {
    std::string input(rng() % 400, '\0');
    for (char& c : input) c = static_cast<char>(rng() & 0xff);
    EXPECT_EQ(RunProgram(input), 0);
  }
}

}  // namespace
}  // namespace fedlog::fuzz
