// The operating point a labelled site computes for a source, and a site without labels applying it
// (common/novelty/operating_point.h).
#include "common/novelty/operating_point.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

TEST(OperatingPointTest, CutRateAndPrevalenceFromLabels) {
  // Ten units: the three anomalous ones score 0.9, 0.8, 0.5; one normal unit scores 0.7.
  const std::vector<double> s = {0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.05, 0.5, 0.15, 0.25};
  const std::vector<int> y = {0, 1, 0, 1, 0, 0, 0, 1, 0, 0};
  auto p = OperatingPointFromLabels(s, y);
  ASSERT_TRUE(p.ok()) << p.status();
  // F1-best: alert the top four (0.9, 0.8, 0.7, 0.5): 3 TP, 1 FP -> 6 / 7; the cut lies midway to 0.3.
  EXPECT_NEAR(p->f1, 6.0 / 7.0, 1e-12);
  EXPECT_NEAR(p->threshold, 0.4, 1e-12);
  EXPECT_NEAR(p->alert_rate, 0.4, 1e-12);
  EXPECT_NEAR(p->prevalence, 0.3, 1e-12);
  EXPECT_EQ(p->units, 10);
  EXPECT_EQ(p->anomalous, 3);
}

TEST(OperatingPointTest, SkipsUnscoredUnitsAndNeedsBothClasses) {
  auto p = OperatingPointFromLabels({-1, 0.9, 0.1}, {1, 1, 0});  // the unscored anomalous unit is skipped
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->units, 2);
  EXPECT_NEAR(p->prevalence, 0.5, 1e-12);
  EXPECT_FALSE(OperatingPointFromLabels({0.9, -1}, {1, 0}).ok());  // no scored normal unit
  EXPECT_FALSE(OperatingPointFromLabels({0.9, 0.1}, {0, 0}).ok());
  EXPECT_FALSE(OperatingPointFromLabels({0.9}, {1, 0}).ok());
}

TEST(OperatingPointTest, NamesRoundTrip) {
  for (PointUse u : {PointUse::kScore, PointUse::kRate, PointUse::kPrevalence}) {
    PointUse back = PointUse::kScore;
    ASSERT_TRUE(ParsePointUse(PointUseName(u), &back));
    EXPECT_EQ(back, u);
  }
  PointUse u;
  EXPECT_FALSE(ParsePointUse("budget", &u));
}

TEST(TransferredCutTest, ScoreUsesTheCutAfterWarmup) {
  OperatingPoint p;
  p.threshold = 0.5;
  TransferredCut cut(p, PointUse::kScore, 3);
  EXPECT_FALSE(cut.Decide(0.9));  // warm-up
  EXPECT_FALSE(cut.Decide(0.9));
  EXPECT_FALSE(cut.Decide(0.1));
  EXPECT_TRUE(cut.Decide(0.6));
  EXPECT_FALSE(cut.Decide(0.4));
  EXPECT_FALSE(cut.Decide(-1));   // no score: never alerts, not counted
  EXPECT_DOUBLE_EQ(cut.Threshold(), 0.5);
}

TEST(TransferredCutTest, RateAndPrevalenceAreRunningQuantilesOfTheSitesOwnScores) {
  OperatingPoint p;
  p.threshold = 100;  // far above every score: only the rate uses apply
  p.alert_rate = 0.2;
  p.prevalence = 0.1;
  TransferredCut rate(p, PointUse::kRate, 10), prev(p, PointUse::kPrevalence, 10);
  for (int i = 1; i <= 10; ++i) {  // scores 1..10: the top 20% start at 9, the top 10% at 10
    EXPECT_FALSE(rate.Decide(i));
    EXPECT_FALSE(prev.Decide(i));
  }
  EXPECT_DOUBLE_EQ(rate.Threshold(), 9);
  EXPECT_DOUBLE_EQ(prev.Threshold(), 10);
  EXPECT_TRUE(rate.Decide(9));
  EXPECT_FALSE(prev.Decide(9));
  EXPECT_FALSE(rate.Decide(0));  // a score of 0 never alerts
}

TEST(TransferredCutTest, NoRateNoAlert) {
  OperatingPoint p;  // rate and prevalence 0
  TransferredCut cut(p, PointUse::kRate, 0);
  cut.Decide(1);
  EXPECT_TRUE(std::isinf(cut.Threshold()));
  EXPECT_FALSE(cut.Decide(5));
}

}  // namespace
}  // namespace fedlog::novelty
