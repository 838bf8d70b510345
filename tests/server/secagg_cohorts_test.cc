// The cohorts of a secure-aggregation attempt after a spoiled sum (server/secagg_cohorts.h,
// docs/rules/s25-cohorts.md): the draw is a partition into disjoint cohorts of the sizes the rule gives, it
// varies from draw to draw (a CSPRNG, not a fixed split), and the passing cohorts' sums combine section by
// section into the mean of their union; a site is singled out to sit a round out only as the rule says.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/secagg_cohorts.h"

namespace fedlog::server {
namespace {

std::vector<std::string> Sites(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("site-" + std::to_string(i));
  return out;
}

TEST(SecAggCohortsTest, CohortsAreADisjointPartitionOfBalancedSizes) {
  struct Case {
    int n, min_size;
    size_t g;
  };
  for (const Case& c : {Case{6, 3, 2}, Case{7, 3, 2}, Case{8, 2, 4}, Case{11, 3, 3}, Case{20, 4, 5}}) {
    SCOPED_TRACE(testing::Message() << c.n << " sites, min " << c.min_size);
    const std::vector<std::string> sites = Sites(c.n);
    auto cohorts = DrawCohorts(sites, c.min_size);
    ASSERT_TRUE(cohorts.ok()) << cohorts.status();
    ASSERT_EQ(cohorts->size(), c.g);
    std::multiset<std::string> seen;
    for (const auto& cohort : *cohorts) {
      EXPECT_GE(static_cast<int>(cohort.size()), c.min_size);
      EXPECT_GE(cohort.size(), sites.size() / c.g);
      EXPECT_LE(cohort.size(), sites.size() / c.g + 1);
      EXPECT_TRUE(std::is_sorted(cohort.begin(), cohort.end()));
      seen.insert(cohort.begin(), cohort.end());
    }
    EXPECT_EQ(seen, std::multiset<std::string>(sites.begin(), sites.end()));  // each site in exactly one
  }
}

TEST(SecAggCohortsTest, TooFewSitesForTwoCohortsKeepTheAttemptWhole) {
  for (int n : {2, 3, 5}) {
    auto cohorts = DrawCohorts(Sites(n), 3);
    ASSERT_TRUE(cohorts.ok()) << cohorts.status();
    EXPECT_TRUE(cohorts->empty()) << n;
  }
  EXPECT_EQ(DrawCohorts(Sites(6), 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DrawCohorts({"a", "b", "a", "c"}, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecAggCohortsTest, DrawsVaryAndPairSitesAboutAsOftenAsChanceSays) {
  // 6 sites in 2 cohorts of 3: site-0 shares its cohort with each other site with probability 2/5.
  const std::vector<std::string> sites = Sites(6);
  std::map<std::string, int> together;
  std::set<std::vector<std::string>> partitions;
  const int draws = 2000;
  for (int d = 0; d < draws; ++d) {
    auto cohorts = DrawCohorts(sites, 3);
    ASSERT_TRUE(cohorts.ok()) << cohorts.status();
    for (const auto& cohort : *cohorts) {
      if (std::find(cohort.begin(), cohort.end(), "site-0") == cohort.end()) continue;
      partitions.insert(cohort);
      for (const std::string& s : cohort) together[s] += s == "site-0" ? 0 : 1;
    }
  }
  EXPECT_EQ(partitions.size(), 10u);  // every cohort of site-0 and two of the five others appears
  for (int i = 1; i < 6; ++i) {
    // 2000 x 0.4 = 800, standard deviation about 22: +/- 110 is five of them.
    EXPECT_NEAR(together["site-" + std::to_string(i)], 800, 110) << i;
  }
}

TEST(SecAggCohortsTest, SecretIndexIsBelowItsBoundAndCoversIt) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 400; ++i) {
    auto r = SecretIndexBelow(7);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_LT(*r, 7u);
    seen.insert(*r);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_FALSE(SecretIndexBelow(0).ok());
}

// A layout of one shared tensor "w" [2] and one adapter section per source of `sources` (one weight [2], no
// prototypes: [1, 1]).
secagg::UpdateVectorLayout Layout(const std::vector<std::string>& sources) {
  secagg::UpdateVectorLayout l;
  l.shared = {{"w", {2}}};
  for (const std::string& s : sources) {
    secagg::AdapterSection a;
    a.source = s;
    a.weights = {{"adapter." + s + ".down.weight", {2}}};
    a.prototypes_shape = {1, 1};
    l.adapters.push_back(a);
  }
  return l;
}

secagg::DecodedSum Sum(std::vector<double> lanes, double weight) {
  secagg::DecodedSum s;
  s.weighted_sum = std::move(lanes);
  s.weight_sum = weight;
  s.clip_range = 4;
  s.rounding = 1e-6;
  return s;
}

const fl::NamedTensor* Find(const fl::TensorBundle& b, const std::string& name) { return b.Find(name); }

TEST(SecAggCohortsTest, PassingCohortsCombineSectionBySection) {
  // Cohort 1 (weight 3): w sums to [3, 6]; its adapter group X (presence 2) sums to [2, -2], no prototypes.
  // Cohort 2 (weight 1): w sums to [1, 2]; its group Y (presence 1) sums to [0.5, 0.5].
  const secagg::UpdateVectorLayout l1 = Layout({"X"}), l2 = Layout({"Y"});
  const secagg::DecodedSum s1 = Sum({3, 6, /*X*/ 2, -2, 2, 0, 0}, 3), s2 = Sum({1, 2, /*Y*/ 0.5, 0.5, 1, 0, 0}, 1);
  auto combined = CombineCohortSums({{&l1, &s1}, {&l2, &s2}});
  ASSERT_TRUE(combined.ok()) << combined.status();
  ASSERT_EQ(combined->first.adapters.size(), 2u);
  EXPECT_EQ(combined->first.adapters[0].source, "X");
  EXPECT_EQ(combined->first.adapters[1].source, "Y");
  EXPECT_DOUBLE_EQ(combined->second.weight_sum, 4);
  auto mean = secagg::MeanFromSum(combined->first, combined->second);
  ASSERT_TRUE(mean.ok()) << mean.status();
  const fl::NamedTensor* w = Find(*mean, "w");
  ASSERT_NE(w, nullptr);
  EXPECT_FLOAT_EQ(w->values[0], 1.0f);  // (3 + 1) / (3 + 1)
  EXPECT_FLOAT_EQ(w->values[1], 2.0f);  // (6 + 2) / 4
  const fl::NamedTensor* x = Find(*mean, "adapter.X.down.weight");
  const fl::NamedTensor* y = Find(*mean, "adapter.Y.down.weight");
  ASSERT_NE(x, nullptr);
  ASSERT_NE(y, nullptr);
  EXPECT_FLOAT_EQ(x->values[0], 1.0f);  // over X's own presence 2, not the total weight
  EXPECT_FLOAT_EQ(y->values[1], 0.5f);
  EXPECT_EQ(Find(*mean, "adapter.X.prototypes"), nullptr);  // no cohort sent prototypes
}

TEST(SecAggCohortsTest, CombiningRefusesSumsThatDoNotMatch) {
  const secagg::UpdateVectorLayout l1 = Layout({}), l2 = Layout({});
  secagg::UpdateVectorLayout other = Layout({});
  other.shared = {{"v", {2}}};
  const secagg::DecodedSum s = Sum({1, 1}, 1), short_sum = Sum({1}, 1);
  EXPECT_EQ(CombineCohortSums({}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CombineCohortSums({{&l1, &s}, {&other, &s}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CombineCohortSums({{&l1, &s}, {&l2, &short_sum}}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecAggCohortsTest, KindSectionsAddOverTheCohortsWhoseSectionPassed) {
  secagg::KindSectionSum a{"HDFS", absl::OkStatus(), {1, 2}, 2};
  secagg::KindSectionSum b{"HDFS", absl::OkStatus(), {3, 4}, 3};
  secagg::KindSectionSum bad{"HDFS", absl::DataLossError("out of range"), {}, 0};
  secagg::KindSectionSum lone{"BGL", absl::DataLossError("out of range"), {}, 0};
  std::vector<secagg::KindSectionSum> out = CombineKindSums({{a, lone}, {bad}, {b}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].source, "BGL");
  EXPECT_FALSE(out[0].status.ok());
  EXPECT_EQ(out[1].source, "HDFS");
  ASSERT_TRUE(out[1].status.ok());
  EXPECT_EQ(out[1].counts, (std::vector<double>{4, 6}));
  EXPECT_DOUBLE_EQ(out[1].sites, 5);
  // A failed section first, then a passing one: the passing one is kept.
  out = CombineKindSums({{bad}, {a}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(out[0].counts, (std::vector<double>{1, 2}));
}

TEST(SecAggCohortsTest, ASiteSitsOutOnlyWhenItAloneWasSuspectEachTimeAndTheOthersWereCleared) {
  const CohortVerdict v1{{"f", "a", "b"}, {"c", "d", "e"}}, v2{{"f", "c", "d"}, {"a", "b", "e"}},
      v3{{"f", "e", "a"}, {"b", "c", "d"}};
  EXPECT_EQ(SitOutSuspect({v1, v2}), "");  // fewer than the window
  EXPECT_EQ(SitOutSuspect({v1, v2, v3}), "f");
  // Only the last kSuspicionWindow count: an older verdict that clears f changes nothing.
  const CohortVerdict f_clear{{"a", "b", "c"}, {"f", "d", "e"}};
  EXPECT_EQ(SitOutSuspect({f_clear, v1, v2, v3}), "f");
  EXPECT_EQ(SitOutSuspect({v1, v2, f_clear}), "");
  // Two sites together in every failing cohort: neither is singled out.
  const CohortVerdict w1{{"f", "a", "b"}, {"c", "d", "e"}}, w2{{"f", "a", "c"}, {"b", "d", "e"}},
      w3{{"f", "a", "d"}, {"b", "c", "e"}};
  EXPECT_EQ(SitOutSuspect({w1, w2, w3}), "");
  // A site never cleared in the window (here e, always suspect or absent) blocks the decision.
  const CohortVerdict x1{{"f", "e", "a"}, {"b", "c", "d"}}, x2{{"f", "b"}, {"a", "c", "d"}},
      x3{{"f", "e", "c"}, {"a", "b", "d"}};
  EXPECT_EQ(SitOutSuspect({x1, x2, x3}), "");
}

}  // namespace
}  // namespace fedlog::server
