// Adaptive clipping (common/fl/adaptive_clip.h): the reference, the bound, and the bound on what one boosted
// update moves the mean by.
#include "common/fl/adaptive_clip.h"

#include <cmath>

#include "common/fl/strategy.h"
#include "gtest/gtest.h"

namespace fedlog::fl {
namespace {

TEST(AdaptiveClipTest, LowerMedianTakesTheLowerMiddle) {
  EXPECT_EQ(LowerMedian({}), 0);
  EXPECT_EQ(LowerMedian({7}), 7);
  EXPECT_EQ(LowerMedian({9, 2}), 2);
  EXPECT_EQ(LowerMedian({5, 1, 3}), 3);
  EXPECT_EQ(LowerMedian({4, 1e9, 2, 3}), 3);
}

TEST(AdaptiveClipTest, OneBoostedUpdateOfAnyFactorIsScaledToTheBound) {
  for (double factor : {10.0, 1e3, 1e6, 1e30}) {
    auto d = DecideClipping({1.0, 1.2, 0.9, 1.1 * factor}, 0, 3, 0);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_DOUBLE_EQ(d->reference, 1.0);  // sorted 0.9, 1.0, 1.2, boosted: element 1
    EXPECT_DOUBLE_EQ(d->bound, 3.0);
    EXPECT_EQ(d->clipped, 1) << factor;
    EXPECT_DOUBLE_EQ(d->scales[0], 1.0);
    EXPECT_DOUBLE_EQ(d->scales[1], 1.0);
    EXPECT_NEAR(d->scales[3] * 1.1 * factor, 3.0, 1e-9 * factor);
    EXPECT_NEAR(d->ratios[3], 1.1 * factor, 1e-9 * factor);
  }
}

TEST(AdaptiveClipTest, TwoUpdatesWithNothingCarriedUseTheSmallerNorm) {
  auto d = DecideClipping({2.0, 2e6}, 0, 3, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(d->reference, 2.0);
  EXPECT_EQ(d->clipped, 1);
  EXPECT_DOUBLE_EQ(d->scales[0], 1.0);
  EXPECT_DOUBLE_EQ(d->scales[1] * 2e6, 6.0);
}

TEST(AdaptiveClipTest, TheCarriedReferenceBoundsALoneOrPairedBoostedUpdate) {
  // One update, boosted: the pool {boosted, carried} has the carried reference as its lower median.
  auto one = DecideClipping({5e6}, 0, 3, 1.5);
  ASSERT_TRUE(one.ok());
  EXPECT_DOUBLE_EQ(one->reference, 1.5);
  EXPECT_DOUBLE_EQ(one->bound, 4.5);
  EXPECT_EQ(one->clipped, 1);
  // Two updates, one boosted: the pool {honest, boosted, carried} has its median at an honest value.
  auto two = DecideClipping({1.4, 5e6}, 0, 3, 1.5);
  ASSERT_TRUE(two.ok());
  EXPECT_DOUBLE_EQ(two->reference, 1.5);
  EXPECT_EQ(two->clipped, 1);
  EXPECT_DOUBLE_EQ(two->scales[0], 1.0);
  // A lone honest update within M x the carried reference passes unscaled.
  auto honest = DecideClipping({2.0}, 0, 3, 1.5);
  ASSERT_TRUE(honest.ok());
  EXPECT_EQ(honest->clipped, 0);
}

TEST(AdaptiveClipTest, OffComputesTheReferenceButScalesNothing) {
  auto d = DecideClipping({1.0, 2.0, 1e6}, 0, 0, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(d->reference, 2.0);
  EXPECT_EQ(d->bound, 0);
  EXPECT_EQ(d->clipped, 0);
  EXPECT_DOUBLE_EQ(d->ratios[2], 5e5);
}

TEST(AdaptiveClipTest, AZeroReferenceSetsNoAdaptiveBoundAndAFixedBoundStillApplies) {
  auto zero = DecideClipping({0.0, 0.0, 4.0}, 0, 3, 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->bound, 0);
  EXPECT_EQ(zero->clipped, 0);
  // clip_norm below M x r wins; above it, M x r does.
  auto fixed = DecideClipping({1.0, 1.0, 10.0}, 2.0, 3, 0);
  ASSERT_TRUE(fixed.ok());
  EXPECT_DOUBLE_EQ(fixed->bound, 2.0);
  auto adaptive = DecideClipping({1.0, 1.0, 10.0}, 50.0, 3, 0);
  ASSERT_TRUE(adaptive.ok());
  EXPECT_DOUBLE_EQ(adaptive->bound, 3.0);
}

TEST(AdaptiveClipTest, RefusesBadInputs) {
  EXPECT_FALSE(DecideClipping({1.0}, 0, 0.5, 0).ok());
  EXPECT_FALSE(DecideClipping({1.0}, 0, -1, 0).ok());
  EXPECT_FALSE(DecideClipping({1.0}, -1, 0, 0).ok());
  EXPECT_FALSE(DecideClipping({1.0}, 0, 3, std::nan("")).ok());
  EXPECT_FALSE(DecideClipping({INFINITY}, 0, 3, 0).ok());
  EXPECT_FALSE(DecideClipping({-1.0}, 0, 3, 0).ok());
}

// Through AggregateDeltas: fedavg with equal weights, three honest updates and one boosted by `factor` in a single
// coordinate or flipped in sign: the aggregate's norm is at most (the honest norms + M r) / n, whatever the factor.
TEST(AdaptiveClipTest, FedAvgMeanMovesAtMostWhatTheBoundAllows) {
  TensorBundle global;
  global.tensors.push_back({"w", {4}, {0, 0, 0, 0}});
  auto delta = [](std::vector<float> v) {
    TensorBundle t;
    t.tensors.push_back({"w", {4}, std::move(v)});
    return t;
  };
  TensorBundle h1 = delta({1, 0, 0, 0}), h2 = delta({0.9f, 0.1f, 0, 0}), h3 = delta({1.1f, 0, 0.1f, 0});
  std::vector<TensorBundle> attacks = {delta({10, 0, 0, 0}), delta({1e3f, 0, 0, 0}), delta({0, 0, 0, 1e6f}),
                                       delta({-100, 0, -10, 0})};
  for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kWeightedFedAvg, StrategyKind::kMedian,
                            StrategyKind::kTrimmedMean}) {
    for (const TensorBundle& bad : attacks) {
      StrategyOptions o;
      o.kind = kind;
      o.adaptive_clip_multiple = 3;
      UpdateStats s{10, 10, 1, {}};
      ClipDecision clip;
      auto agg = AggregateDeltas(global, {{"a", &h1, s}, {"b", &h2, s}, {"c", &h3, s}, {"x", &bad, s}}, o, &clip);
      ASSERT_TRUE(agg.ok()) << agg.status();
      EXPECT_EQ(clip.clipped, 1);
      const double honest = 1 + std::sqrt(0.81 + 0.01) + std::sqrt(1.21 + 0.01);
      const double bound = (honest + 3 * clip.reference) / 4;  // |mean| <= the clipped norms' sum / n
      EXPECT_LT(clip.reference, 1.11);
      double sq = 0;
      for (float v : agg->Find("w")->values) sq += double{v} * v;
      EXPECT_LE(std::sqrt(sq), bound + 1e-6) << StrategyName(kind);
    }
  }
}

}  // namespace
}  // namespace fedlog::fl
