// Replays a seeded random corpus through the aggregator-message fuzz entry (aggregator_fuzz_entry.h), so every
// build exercises the site's checks of what its aggregator sends without clang.
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/fuzz/aggregator_fuzz_entry.h"

namespace fedlog::fuzz {
namespace {

// A seed with a few mutations: byte flips, truncation, inserted bytes, a varint set to its maximum.
std::string Mutate(std::string s, std::mt19937* rng) {
  const int mutations = static_cast<int>((*rng)() % 5);
  for (int m = 0; m < mutations && s.size() > 1; ++m) {
    const size_t pos = 1 + (*rng)() % (s.size() - 1);
    switch ((*rng)() % 4) {
      case 0: s[pos] = static_cast<char>((*rng)() & 0xff); break;
      case 1: s.resize(pos); break;
      case 2: s.insert(pos, 1, static_cast<char>((*rng)() & 0xff)); break;
      default: s.insert(pos, std::string("\xff\xff\xff\xff\x07", 5)); break;
    }
  }
  return s;
}

TEST(AggregatorFuzzReplayTest, SeedsPassTheirChecks) {
  const int64_t before = AggregatorMessagesAccepted();
  for (int selector : {0, 1, 2, 4}) {  // 3 (secagg polls) has no accept/refuse outcome of its own
    const std::string seed = AggregatorSeed(selector);
    FuzzAggregatorMessageOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
  }
  EXPECT_EQ(AggregatorMessagesAccepted() - before, 4);
}

TEST(AggregatorFuzzReplayTest, SeededRandomCorpusKeepsInvariants) {
  std::mt19937 rng(20261207);
  for (int i = 0; i < 2000; ++i) {
    const std::string input = Mutate(AggregatorSeed(static_cast<int>(rng() % 5)), &rng);
    EXPECT_EQ(FuzzAggregatorMessageOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size()), 0);
  }
}

}  // namespace
}  // namespace fedlog::fuzz
