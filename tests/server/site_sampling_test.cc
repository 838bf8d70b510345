// Which sites a round asks (server/coordinator_privacy.h SampleRoundSites, `fedlog run start --sample-fraction`):
// the plan's share of the online sites and never fewer than min_sites, a sorted subset drawn from the CSPRNG, so
// that no site can predict the rounds it is asked to (with or without site-level DP).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/coordinator_privacy.h"

namespace fedlog::server {
namespace {

RoundRecord Online(int sites, int32_t round = 1, int32_t attempt = 1) {
  RoundRecord r;
  r.round = round;
  r.attempt = attempt;
  for (int i = 0; i < sites; ++i) r.participants.push_back(absl::StrCat("site-", i));
  return r;
}

v1::RunPlan Plan(double fraction, int min_sites) {
  v1::RunPlan p;
  p.set_sample_fraction(fraction);
  p.set_min_sites(min_sites);
  return p;
}

void ExpectSortedSubset(const RoundRecord& sampled, const RoundRecord& online) {
  EXPECT_TRUE(std::is_sorted(sampled.participants.begin(), sampled.participants.end()));
  const std::set<std::string> all(online.participants.begin(), online.participants.end());
  const std::set<std::string> unique(sampled.participants.begin(), sampled.participants.end());
  EXPECT_EQ(unique.size(), sampled.participants.size());
  for (const std::string& s : sampled.participants) EXPECT_TRUE(all.count(s)) << s;
}

TEST(SiteSampling, EveryOnlineSiteWithoutAFraction) {
  for (double fraction : {0.0, 1.0}) {
    RoundRecord r = Online(7);
    ASSERT_TRUE(SampleRoundSites(Plan(fraction, 2), &r).ok());
    EXPECT_EQ(r.participants, Online(7).participants);
  }
}

TEST(SiteSampling, TheShareRoundedUpAndNeverBelowMinSites) {
  RoundRecord half = Online(10);
  ASSERT_TRUE(SampleRoundSites(Plan(0.45, 2), &half).ok());
  EXPECT_EQ(half.participants.size(), 5u);  // ceil(0.45 x 10)
  ExpectSortedSubset(half, Online(10));
  RoundRecord floor = Online(10);
  ASSERT_TRUE(SampleRoundSites(Plan(0.1, 3), &floor).ok());
  EXPECT_EQ(floor.participants.size(), 3u);
  ExpectSortedSubset(floor, Online(10));
}

// The same run, round and attempt draw different samples: nothing a site knows fixes them (ten draws of 5 of 20
// all alike: probability 15,504^-9), in plain runs and under site-level DP alike.
TEST(SiteSampling, TheSampleIsUnpredictable) {
  for (const char* mode : {"", "site"}) {
    v1::RunPlan plan = Plan(0.25, 1);
    plan.set_dp_mode(mode);
    std::set<std::vector<std::string>> samples;
    for (int i = 0; i < 10; ++i) {
      RoundRecord r = Online(20, 4, 1);
      ASSERT_TRUE(SampleRoundSites(plan, &r).ok());
      EXPECT_EQ(r.participants.size(), 5u);
      ExpectSortedSubset(r, Online(20));
      samples.insert(r.participants);
    }
    EXPECT_GT(samples.size(), 1u) << "dp_mode '" << mode << "'";
  }
}

}  // namespace
}  // namespace fedlog::server
