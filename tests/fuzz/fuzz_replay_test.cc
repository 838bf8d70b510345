// Replays a seeded random corpus through the fuzz entry point, so every CI build exercises it without clang.
#include <random>
#include <string>

#include "common/logparse/line_parser.h"
#include "gtest/gtest.h"
#include "tests/fuzz/parse_fuzz_entry.h"

namespace fedlog::logparse {
namespace {

// Inputs mix well-formed lines of every format with mutations: byte flips, truncation, NULs, high bytes.
std::string MakeInput(std::mt19937* rng) {
  static const char* kSeeds[] = {
      "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38 terminating",
      "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
      "<34>Oct 11 22:14:15 mymachine su[1]: 'su root' failed",
      "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [a b=\"c\"] msg",
      "{\"time\": 1704164645, \"msg\": \"disk \\\"sda\\\" full\", \"level\": \"error\"}",
      "2024-01-02 03:04:05.678 [WARN] db: slow query took 1234 ms",
      "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
      "03-17 16:13:38.819  1702  8671 D Power: acquire lock=23, tag=\"View Lock\", name=com.a.b, ws=null",
  };
  std::string s(1, static_cast<char>((*rng)() & 0xff));
  const int lines = 1 + static_cast<int>((*rng)() % 8);
  for (int i = 0; i < lines; ++i) {
    std::string line = kSeeds[(*rng)() % (sizeof(kSeeds) / sizeof(kSeeds[0]))];
    const int mutations = static_cast<int>((*rng)() % 6);
    for (int m = 0; m < mutations && !line.empty(); ++m) {
      const size_t pos = (*rng)() % line.size();
      switch ((*rng)() % 4) {
        case 0: line[pos] = static_cast<char>((*rng)() & 0xff); break;
        case 1: line.resize(pos); break;
        case 2: line.insert(pos, 1, '\0'); break;
        default: line.insert(pos, std::string(1 + (*rng)() % 40, ' ')); break;
      }
    }
    s += line;
    if (i + 1 < lines || (*rng)() % 2) s += ((*rng)() % 3 == 0) ? "\r\n" : "\n";
  }
  return s;
}

TEST(FuzzReplayTest, SeededRandomCorpusKeepsInvariants) {
  std::mt19937 rng(20261123);
  for (int i = 0; i < 3000; ++i) {
    const std::string input = MakeInput(&rng);
    EXPECT_EQ(FuzzParseOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size()), 0);
  }
}

TEST(FuzzReplayTest, EverySelectorByteOnAnEmptyishInput) {
  for (int b = 0; b < 256; ++b) {
    const std::string input = std::string(1, static_cast<char>(b)) + "\n\n \r\n";
    EXPECT_EQ(FuzzParseOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size()), 0);
  }
}

}  // namespace
}  // namespace fedlog::logparse
