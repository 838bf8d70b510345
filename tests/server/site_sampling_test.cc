// Which sites a round asks (server/coordinator_privacy.h SampleRoundSites, `fedlog run start --sample-fraction`):
// the plan's share of the online sites and never fewer than min_sites, a sorted subset; the same sample for the
// same run, round and attempt (a restart asks the same sites) unless site-level DP needs a sample nobody can
// predict.
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
    ASSERT_TRUE(SampleRoundSites(Plan(fraction, 2), 1, &r).ok());
    EXPECT_EQ(r.participants, Online(7).participants);
  }
}

TEST(SiteSampling, TheShareRoundedUpAndNeverBelowMinSites) {
  RoundRecord half = Online(10);
  ASSERT_TRUE(SampleRoundSites(Plan(0.45, 2), 1, &half).ok());
  EXPECT_EQ(half.participants.size(), 5u);  // ceil(0.45 x 10)
  ExpectSortedSubset(half, Online(10));
  RoundRecord floor = Online(10);
  ASSERT_TRUE(SampleRoundSites(Plan(0.1, 3), 1, &floor).ok());
  EXPECT_EQ(floor.participants.size(), 3u);
  ExpectSortedSubset(floor, Online(10));
}

TEST(SiteSampling, ARestartAsksTheSameSitesAndAttemptsDiffer) {
  RoundRecord first = Online(20, 4, 1), again = Online(20, 4, 1);
  ASSERT_TRUE(SampleRoundSites(Plan(0.25, 1), 9, &first).ok());
  ASSERT_TRUE(SampleRoundSites(Plan(0.25, 1), 9, &again).ok());
  EXPECT_EQ(first.participants, again.participants);
  // Over ten further attempts of the round, at least one other sample (C(20, 5) = 15,504 of them).
  bool differs = false;
  for (int32_t attempt = 2; attempt <= 11; ++attempt) {
    RoundRecord r = Online(20, 4, attempt);
    ASSERT_TRUE(SampleRoundSites(Plan(0.25, 1), 9, &r).ok());
    ExpectSortedSubset(r, Online(20));
    differs = differs || r.participants != first.participants;
  }
  EXPECT_TRUE(differs);
}

TEST(SiteSampling, SiteLevelDpDrawsFromTheCsprng) {
  v1::RunPlan plan = Plan(0.25, 1);
  plan.set_dp_mode("site");
  // The same run, round and attempt: the seeded sample would repeat; the CSPRNG's does not (ten draws of 5 of 20
  // all alike: probability 15,504^-9).
  std::set<std::vector<std::string>> samples;
  for (int i = 0; i < 10; ++i) {
    RoundRecord r = Online(20, 4, 1);
    ASSERT_TRUE(SampleRoundSites(plan, 9, &r).ok());
    EXPECT_EQ(r.participants.size(), 5u);
    ExpectSortedSubset(r, Online(20));
    samples.insert(r.participants);
  }
  EXPECT_GT(samples.size(), 1u);
}

}  // namespace
}  // namespace fedlog::server
