// Bounded influence under secure aggregation (common/secagg/weights.h, docs/rules/s25-weightcap.md): the cap on
// stated weights gives the plain path's shares (fl::CapWeightShares) over a seeded table of weights and caps,
// the survivors' share check, a site's check of the weight it is given, and the unmasked weight-sum check at
// the edge of its rounding tolerance.
#include "common/secagg/weights.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "common/fl/strategy.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

std::vector<double> Capped(const std::vector<double>& w, double share) {
  const double cap = ShareCap(w, share);
  std::vector<double> out;
  for (double x : w) out.push_back(std::min(x, cap));
  return out;
}

std::vector<double> Shares(std::vector<double> w) {
  const double sum = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= sum;
  return w;
}

TEST(SecAggWeightsTest, ClaimedWeightIsCappedToTheShare) {
  // The brief's case: one site claims 1e6 against two of 1,400; share cap 0.4.
  const std::vector<double> w = {1400, 1e6, 1400};
  const std::vector<double> a = Capped(w, 0.4);
  EXPECT_NEAR(a[1], 0.4 * 2800 / 0.6, 1e-9);
  EXPECT_EQ(a[0], 1400);
  EXPECT_EQ(a[2], 1400);
  EXPECT_NEAR(Shares(a)[1], 0.4, 1e-12);
  // The default cap 0.5 over three sites: the liar weighs as much as both honest sites together.
  EXPECT_NEAR(Shares(Capped(w, 0.5))[1], 0.5, 1e-12);
}

TEST(SecAggWeightsTest, NothingCappedWithoutACapOrAboveIt) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ShareCap({100, 200, 300}, 0.5), inf);   // 300 / 600 is the cap, not above it
  EXPECT_EQ(ShareCap({100, 1e6}, 1.0), inf);        // max_site_share 1 turns the cap off
  EXPECT_EQ(ShareCap({100, 1e6}, 0.0), inf);
  EXPECT_EQ(ShareCap({1e6}, 0.5), inf);             // one site: nothing to share
  EXPECT_EQ(ShareCap({}, 0.5), inf);
}

TEST(SecAggWeightsTest, CapIsAtLeastOneOverNAndNeverBelowTheSmallestWeight) {
  // Share 0.1 over 2 sites means 1/2: both weigh the smaller weight.
  EXPECT_EQ(ShareCap({30, 1000}, 0.1), 30);
  // Two heavy sites capped together; the light one keeps its weight.
  const std::vector<double> a = Capped({450, 450, 100}, 0.4);
  EXPECT_NEAR(Shares(a)[0], 0.4, 1e-12);
  EXPECT_NEAR(Shares(a)[1], 0.4, 1e-12);
  EXPECT_EQ(a[2], 100);
}

// Over a seeded table of weight vectors (1 to 40 sites, weights spread over six orders of magnitude, ties) and
// caps, the capped weights' shares are fl::CapWeightShares's, no capped weight exceeds its stated one, and the
// cap is never below the smallest weight (so capping never costs a site precision).
TEST(SecAggWeightsTest, SharesMatchThePlainPathsWaterFilling) {
  std::mt19937_64 rng(25);
  std::uniform_int_distribution<int> sites(1, 40);
  std::uniform_real_distribution<double> log_weight(0, 6);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<double> w(static_cast<size_t>(sites(rng)));
    for (double& x : w) x = std::round(std::pow(10.0, log_weight(rng)));
    if (trial % 5 == 0 && w.size() > 2) w[1] = w[0];  // ties
    for (double share : {0.05, 0.2, 0.34, 0.5, 0.9}) {
      SCOPED_TRACE(::testing::Message() << "trial " << trial << ", " << w.size() << " sites, share " << share);
      const std::vector<double> a = Capped(w, share);
      const std::vector<double> expected = fl::CapWeightShares(Shares(w), share);
      const std::vector<double> got = Shares(a);
      for (size_t i = 0; i < w.size(); ++i) {
        EXPECT_NEAR(got[i], expected[i], 1e-9) << "site " << i;
        EXPECT_LE(a[i], w[i]);
      }
      EXPECT_GE(ShareCap(w, share), *std::min_element(w.begin(), w.end()));
      EXPECT_FALSE(FirstOverShare(a, share).has_value());
    }
  }
}

TEST(SecAggWeightsTest, SurvivorAboveTheCapIsNamed) {
  // Capped for three sites at 0.5 (2000, 1000, 1000); one light site drops: 2000 of 3000 is above max(0.5, 1/2).
  EXPECT_FALSE(FirstOverShare({2000, 1000, 1000}, 0.5).has_value());
  EXPECT_EQ(FirstOverShare({1000, 2000}, 0.5), 1u);
  EXPECT_FALSE(FirstOverShare({1000, 2000}, 1.0).has_value());  // no cap
  // 1/n is the floor: two survivors of equal weight each hold 1/2 > 0.3, which is allowed.
  EXPECT_FALSE(FirstOverShare({1000, 1000}, 0.3).has_value());
}

TEST(SecAggWeightsTest, SiteRefusesAGivenWeightOutsideWhatItStated) {
  EXPECT_EQ(*CheckGivenWeight(100, 100), 100);
  EXPECT_EQ(*CheckGivenWeight(40.5, 100), 40.5);
  for (double bad : {0.0, -1.0, 100.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(CheckGivenWeight(bad, 100).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(CheckStatedWeight(0).ok());
  EXPECT_TRUE(CheckStatedWeight(kMaxStatedWeight).ok());
  for (double bad : {-1.0, kMaxStatedWeight * 2, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(CheckStatedWeight(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// The weight lanes of 3 sites given 100, 200 and 133.3 decode to the sum of their roundings: accepted; the
// sum with one site's weight a single step heavier than half a step per site is refused.
TEST(SecAggWeightsTest, WeightSumMustBeTheGivenWeightsWithinRounding) {
  QuantizationOptions o;
  o.max_weight = 1024;
  o.max_sites = 3;
  Quantizer q = *Quantizer::Create(ChooseLanes(o));
  ASSERT_EQ(q.lane_bits(), 32);  // 3 x 4 x 1024 leaves f = 16 in 32-bit lanes
  const std::vector<double> given = {100, 200, 400.0 / 3};
  uint32_t lanes = 0;
  for (double w : given) lanes += static_cast<uint32_t>(q.WeightLane(w));
  DecodedSum sum = *q.DecodeSum(std::vector<uint32_t>{lanes}, 3);
  const double expected = std::accumulate(given.begin(), given.end(), 0.0);
  const int f = q.fractional_bits();
  EXPECT_TRUE(CheckWeightSum(sum, expected, 3, f).ok());
  sum.weight_sum = expected + 3 * std::ldexp(1.0, -(f + 1));  // at the tolerance: still honest rounding
  EXPECT_TRUE(CheckWeightSum(sum, expected, 3, f).ok());
  sum.weight_sum = expected + 2 * std::ldexp(1.0, -f);  // two steps: more than 3 half steps
  EXPECT_EQ(CheckWeightSum(sum, expected, 3, f).code(), absl::StatusCode::kDataLoss);
  sum.weight_sum = expected - 100;  // a site masked 0 instead of 100
  absl::Status st = CheckWeightSum(sum, expected, 3, f);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("masked a weight other than the one it was given"), std::string::npos) << st;
}

}  // namespace
}  // namespace fedlog::secagg
