// The site threshold's refresh (session 24): a rise of the budget quantile in the budget stage
// recomputes the threshold at once (ThresholdOptions::refresh_on_rise), so an incident's burst that
// fills the top of the histogram is judged by the adapted rule on the line it does so, not up to
// refresh_lines lines later.
#include <cmath>
#include <random>
#include <vector>

#include "common/novelty/scorer.h"
#include "common/novelty/site_threshold.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

ThresholdOptions Compact(bool refresh_on_rise) {
  ThresholdOptions o;
  o.rule = ThresholdRule::kCompact;
  o.refresh_on_rise = refresh_on_rise;
  return o;
}

// Decisions on a stream of `quiet` lines (every tenth a routine severe line with alarm words, the
// others routine lines; each kind spread evenly over its range, [3, 5] and [1, 1.5], by a Weyl
// sequence, so the severe lines make one wide mass with no valley inside it) and then `burst`
// near-equal incident lines at 8.9 with alarm words, the same repeated severe event. Test data only
// (seeded std::mt19937 for the burst's jitter).
std::vector<bool> Decisions(SiteThreshold* t, int quiet, int burst, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const double step = 0.6180339887498949;  // the golden ratio's fractional part
  std::vector<bool> alerts;
  for (int i = 0; i < quiet + burst; ++i) {
    const double spread = std::fmod(step * i, 1.0);
    double score = 1 + 0.5 * spread;
    bool alarm = false;
    if (i >= quiet) {
      score = 8.9 + 0.01 * u(rng);
      alarm = true;
    } else if (i % 10 == 0) {
      score = 3 + 2 * spread;
      alarm = true;
    }
    alerts.push_back(t->Decide(score, alarm));
  }
  return alerts;
}

int Count(const std::vector<bool>& alerts, int from) {
  int n = 0;
  for (size_t i = static_cast<size_t>(from); i < alerts.size(); ++i) n += alerts[i] ? 1 : 0;
  return n;
}

TEST(RefreshOnRiseTest, AnIncidentBurstAlertsFromTheLineItFillsTheBudget) {
  // 900 quiet lines, then the burst from line 900: the 64-line schedule refreshes after line 896,
  // before the burst, and next after line 960.
  SiteThreshold off(Compact(false));
  const std::vector<bool> a = Decisions(&off, 900, 100, 5);
  SiteThreshold on(Compact(true));
  const std::vector<bool> b = Decisions(&on, 900, 100, 5);
  // Before the burst the decisions are the same: the quantile's rises there find no cluster.
  for (int i = 0; i < 900; ++i) ASSERT_EQ(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)]) << i;
  // Without: the first lines alert at the budget, then the quantile rises above the burst and the
  // lines up to the refresh at 960 alert at neither threshold.
  EXPECT_LT(Count(a, 900), 70);
  EXPECT_GE(Count(a, 960), 40);
  // With: the rise adapts the threshold at once; every line of the burst alerts.
  EXPECT_EQ(Count(b, 900), 100);
  EXPECT_EQ(on.stage(), ThresholdStage::kAdapted);
  EXPECT_EQ(off.stage(), ThresholdStage::kAdapted);
  EXPECT_DOUBLE_EQ(on.Threshold(), off.Threshold());  // the same rule, judged sooner
}

TEST(RefreshOnRiseTest, ChangesNothingWhereTheRuleCannotAdapt) {
  // No alarm word backs the burst and the quiet lines have none above the budget: the budget stays,
  // and the extra refreshes decide nothing.
  SiteThreshold off(Compact(false));
  SiteThreshold on(Compact(true));
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 3000; ++i) {
    const double score = i >= 1500 && i < 1600 ? 8.9 + 0.01 * u(rng) : 1 + 3 * u(rng);
    ASSERT_EQ(off.Decide(score, false), on.Decide(score, false)) << i;
  }
  EXPECT_EQ(on.stage(), ThresholdStage::kBudget);
}

TEST(RefreshOnRiseTest, DefaultsAndTheSessionThreshold) {
  EXPECT_FALSE(ThresholdOptions{}.refresh_on_rise);  // sessions and few-shot: the 64-line schedule
  EXPECT_EQ(ThresholdOptions{}.refresh_lines, 64);
  NoveltyOptions o;
  EXPECT_TRUE(o.refresh_on_rise);  // the line detector's default (session 24)
  EXPECT_EQ(ThresholdFor(o).refresh_lines, o.threshold_refresh_lines);
  EXPECT_EQ(ThresholdFor(o).refresh_on_rise, o.refresh_on_rise);
  o.threshold_refresh_lines = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.threshold_refresh_lines = 65537;
  EXPECT_FALSE(o.Validate().ok());
  o.threshold_refresh_lines = 1;
  EXPECT_TRUE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
