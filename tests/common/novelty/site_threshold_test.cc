// The site's threshold: the budget with no labels, the adaptation to high-score clusters that the
// stream's alarm words back (the compact rule and the valley rule), and the move to the labelled
// lines' threshold.
#include "common/novelty/site_threshold.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/novelty/scorer.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

// A stream whose lines are mostly routine (score about 1) with a share `high` of alarm lines whose
// scores sit in a separate cluster about 5. Test data only (seeded std::mt19937).
struct Mixture {
  double high = 0.15;
  bool alarm_words = true;
};

// Feeds `n` scores; returns the share of alerts over the second half.
double Feed(SiteThreshold* t, const Mixture& m, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> low(1.0, 0.2), high(5.0, 0.3);
  int alerts = 0;
  for (int i = 0; i < n; ++i) {
    const bool h = u(rng) < m.high;
    const double score = std::max(0.01, h ? high(rng) : low(rng));
    const bool alert = t->Decide(score, h && m.alarm_words);
    if (i >= n / 2) alerts += alert ? 1 : 0;
  }
  return alerts / (n / 2.0);
}

TEST(SiteThresholdTest, KeepsTheBudgetWhenNoClusterStandsOut) {
  ThresholdOptions o;
  o.budget = 0.02;
  SiteThreshold t(o);
  std::mt19937 rng(5);
  std::exponential_distribution<double> e(1.0);
  int alerts = 0;
  for (int i = 0; i < 20000; ++i) {
    // Alarm words are common here, but the scores decay smoothly: nothing to adapt to.
    const bool alert = t.Decide(e(rng), i % 3 == 0);
    if (i >= 10000) alerts += alert ? 1 : 0;
  }
  EXPECT_EQ(t.stage(), ThresholdStage::kBudget);
  EXPECT_NEAR(alerts / 10000.0, 0.02, 0.006);
}

TEST(SiteThresholdTest, RisesToAHighClusterBackedByAlarmWords) {
  ThresholdOptions o;  // budget 0.01, far below the stream's 15% of alarm lines
  SiteThreshold t(o);
  const double rate = Feed(&t, {}, 6000, 7);
  EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
  EXPECT_NEAR(t.adapted_rate(), 0.15, 0.03);
  EXPECT_NEAR(rate, 0.15, 0.03);
  EXPECT_GT(t.Threshold(), 1.8);  // in the valley between the clusters
  EXPECT_LT(t.Threshold(), 4.2);
}

TEST(SiteThresholdTest, WithoutAlarmWordsTheBudgetStays) {
  SiteThreshold t(ThresholdOptions{});
  Mixture m;
  m.alarm_words = false;  // the same cluster, but the stream's words do not say it is trouble
  const double rate = Feed(&t, m, 6000, 7);
  EXPECT_EQ(t.stage(), ThresholdStage::kBudget);
  EXPECT_NEAR(rate, 0.01, 0.006);
}

TEST(SiteThresholdTest, NeverAboveMaxAlertRateAndOffAtTheBudget) {
  ThresholdOptions o;
  o.rule = ThresholdRule::kValley;
  o.max_alert_rate = 0.10;  // the cluster holds 15%: too many for this site
  o.max_cluster_share = 0;  // and it may not be split
  SiteThreshold capped(o);
  EXPECT_NEAR(Feed(&capped, {}, 6000, 9), 0.01, 0.006);
  EXPECT_EQ(capped.stage(), ThresholdStage::kBudget);
  // Split (the default): the cluster's upper part alerts, still within max_alert_rate.
  o.max_cluster_share = 0.5;
  SiteThreshold split(o);
  const double rate = Feed(&split, {}, 6000, 9);
  EXPECT_EQ(split.stage(), ThresholdStage::kAdapted);
  EXPECT_GT(rate, 0.03);
  EXPECT_LE(rate, 0.10);
  EXPECT_LE(split.adapted_rate(), 0.10);
  o.max_alert_rate = 0;  // adaptation off
  SiteThreshold off(o);
  Feed(&off, {}, 6000, 9);
  EXPECT_EQ(off.stage(), ThresholdStage::kBudget);
}

// Three groups: routine lines (70%), normal severe lines (20%, about 4) and incidents (10%, about
// 5.5), the two severe groups overlapping (no valley between them).
// The alarm lines back 30%, more than max_alert_rate allows, so no valley qualifies; the split
// finds the incidents' cut between the two severe groups.
TEST(SiteThresholdTest, SplitsAnAlarmClusterLargerThanTheCap) {
  for (double max_cluster : {0.0, 0.5}) {
    ThresholdOptions o;
    o.rule = ThresholdRule::kValley;
    o.max_alert_rate = 0.25;
    o.max_cluster_share = max_cluster;
    SiteThreshold t(o);
    std::mt19937 rng(21);  // test data only
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> routine(1.0, 0.2), severe(4.0, 0.5), incident(5.5, 0.5);
    int alerts = 0, incidents_alerted = 0, incidents = 0;
    const int n = 6000;
    for (int i = 0; i < n; ++i) {
      const double r = u(rng);
      const int group = r < 0.7 ? 0 : (r < 0.9 ? 1 : 2);
      const double score = std::max(0.01, group == 0 ? routine(rng) : group == 1 ? severe(rng) : incident(rng));
      const bool alert = t.Decide(score, group > 0);
      if (i < n / 2) continue;
      alerts += alert ? 1 : 0;
      incidents += group == 2 ? 1 : 0;
      incidents_alerted += group == 2 && alert ? 1 : 0;
    }
    if (max_cluster == 0) {
      EXPECT_EQ(t.stage(), ThresholdStage::kBudget);
      continue;
    }
    EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
    EXPECT_GT(t.Threshold(), 4.3);
    EXPECT_LT(t.Threshold(), 5.2);
    EXPECT_NEAR(alerts / (n / 2.0), 0.11, 0.04);
    EXPECT_GT(incidents_alerted, 0.8 * incidents);
  }
}

// A valley cluster (20% of lines, within the cap) holding routine severe lines and incidents: taken
// whole by default, split at its Otsu cut with split_valley_cluster.
TEST(SiteThresholdTest, SplitsAValleyClusterOnlyWhenAsked) {
  for (bool split : {false, true}) {
    ThresholdOptions o;
    o.rule = ThresholdRule::kValley;
    o.max_alert_rate = 0.25;
    o.split_valley_cluster = split;
    SiteThreshold t(o);
    std::mt19937 rng(5);  // test data only
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> routine(1.0, 0.2), severe(4.0, 0.3), incident(6.0, 0.3);
    int alerts = 0;
    const int n = 6000;
    for (int i = 0; i < n; ++i) {
      const double r = u(rng);
      const int group = r < 0.8 ? 0 : (r < 0.9 ? 1 : 2);
      const double score = std::max(0.01, group == 0 ? routine(rng) : group == 1 ? severe(rng) : incident(rng));
      const bool alert = t.Decide(score, group > 0);
      if (i >= n / 2) alerts += alert ? 1 : 0;
    }
    EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
    if (split) {
      EXPECT_GT(t.Threshold(), 4.5);
      EXPECT_LT(t.Threshold(), 5.6);
      EXPECT_NEAR(alerts / (n / 2.0), 0.10, 0.03);
    } else {
      EXPECT_LT(t.Threshold(), 3.2);
      EXPECT_NEAR(alerts / (n / 2.0), 0.20, 0.03);
    }
  }
}

// Routine lines (score about 1), a wide mass of routine severe lines (each with its own value:
// scores spread uniformly over [3, wide_hi]) and compact incident clusters (mean, share): one event
// repeated at near-equal scores. Every severe line carries alarm words. Returns the alert share
// over the second half and, in `wide_alerted`, the share of wide-mass lines alerted there.
struct Incident {
  double mean;
  double share;
};
double FeedSevere(SiteThreshold* t, const std::vector<Incident>& incidents, double wide_share,
                  double wide_hi, uint32_t seed, double* wide_alerted) {
  std::mt19937 rng(seed);  // test data only
  std::uniform_real_distribution<double> u(0, 1), wide(3.0, wide_hi);
  std::normal_distribution<double> routine(1.0, 0.2), jitter(0, 0.1);
  const int n = 8000;
  int alerts = 0, wide_lines = 0, wide_alerts = 0;
  for (int i = 0; i < n; ++i) {
    double r = u(rng), score = -1;
    for (const Incident& c : incidents) {
      if (score < 0 && r < c.share) score = c.mean + jitter(rng);
      r -= c.share;
    }
    const bool is_wide = score < 0 && r < wide_share;
    const bool severe = score >= 0 || is_wide;
    if (is_wide) score = wide(rng);
    if (score < 0) score = std::max(0.01, routine(rng));
    const bool alert = t->Decide(score, severe);
    if (i < n / 2) continue;
    alerts += alert ? 1 : 0;
    wide_lines += is_wide ? 1 : 0;
    wide_alerts += is_wide && alert ? 1 : 0;
  }
  if (wide_alerted != nullptr) *wide_alerted = wide_alerts / std::max(1.0, 1.0 * wide_lines);
  return alerts / (n / 2.0);
}

ThresholdOptions Compact() {
  ThresholdOptions o;
  o.rule = ThresholdRule::kCompact;
  return o;
}

TEST(SiteThresholdTest, CompactRuleAlertsTheIncidentNotTheWideSevereMass) {
  // The struct's default is the valley rule; the line detector's is compact.
  EXPECT_EQ(ThresholdOptions{}.rule, ThresholdRule::kValley);
  EXPECT_EQ(ThresholdFor(NoveltyOptions{}).rule, ThresholdRule::kCompact);
  // The wide mass reaches up to the incident (no empty gap between them).
  SiteThreshold t(Compact());
  double wide = 1;
  const double rate = FeedSevere(&t, {{7.5, 0.08}}, 0.15, 7.2, 11, &wide);
  EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
  EXPECT_GT(t.Threshold(), 6.8);
  EXPECT_LT(t.Threshold(), 7.4);
  EXPECT_NEAR(rate, 0.08, 0.02);
  EXPECT_NEAR(t.adapted_rate(), 0.08, 0.02);
  EXPECT_LE(wide * 0.15, 0.01);  // the routine severe lines: within the budget
  // The valley rule on the same stream takes the whole severe mass (23%, backed by alarm words).
  SiteThreshold valley(ThresholdOptions{});
  EXPECT_GT(FeedSevere(&valley, {{7.5, 0.08}}, 0.15, 7.2, 11, &wide), 0.18);
  EXPECT_GT(wide, 0.9);
}

TEST(SiteThresholdTest, CompactRuleTakesEveryCompactClusterAboveTheWideMass) {
  SiteThreshold t(Compact());
  double wide = 1;
  const double rate = FeedSevere(&t, {{9.0, 0.04}, {7.0, 0.03}}, 0.15, 5.5, 13, &wide);
  EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
  EXPECT_GT(t.Threshold(), 5.5);
  EXPECT_LT(t.Threshold(), 6.95);
  EXPECT_NEAR(rate, 0.07, 0.02);
  EXPECT_LT(wide, 0.02);
}

TEST(SiteThresholdTest, CompactRuleKeepsTheBudgetWhenTheTopIsWide) {
  ThresholdOptions o = Compact();
  SiteThreshold t(o);
  double wide = 1;
  // No incident: the severe lines are all routine, spread out. (The budget is a ceiling: the
  // quantile stops at a bin edge.)
  EXPECT_LE(FeedSevere(&t, {}, 0.2, 5.5, 17, &wide), 0.016);
  EXPECT_EQ(t.stage(), ThresholdStage::kBudget);
  // A narrower width makes even the incident wide.
  o.cluster_width = 0.002;
  SiteThreshold narrow(o);
  EXPECT_LE(FeedSevere(&narrow, {{7.5, 0.08}}, 0.17, 5.5, 11, &wide), 0.016);
  EXPECT_EQ(narrow.stage(), ThresholdStage::kBudget);
  // The incident holds more lines than the site lets the clusters hold.
  o = Compact();
  o.max_cluster_share = 0.05;
  SiteThreshold capped(o);
  EXPECT_LE(FeedSevere(&capped, {{7.5, 0.08}}, 0.17, 5.5, 11, &wide), 0.016);
  EXPECT_EQ(capped.stage(), ThresholdStage::kBudget);
  // Alarm words back none of it.
  SiteThreshold silent(Compact());
  Mixture m;
  m.alarm_words = false;
  EXPECT_NEAR(Feed(&silent, m, 6000, 7), 0.01, 0.006);
  EXPECT_EQ(silent.stage(), ThresholdStage::kBudget);
}

// Session 12: the lines below the incident clusters still get the budget among themselves.
TEST(SiteThresholdTest, RestBudgetSpendsTheBudgetBelowTheClusters) {
  EXPECT_DOUBLE_EQ(ThresholdOptions{}.rest_budget, 0.0);  // sessions and few-shot: the plain rule
  EXPECT_DOUBLE_EQ(ThresholdFor(NoveltyOptions{}).rest_budget, 0.5);
  SiteThreshold plain(Compact());
  double plain_wide = 1;
  const double plain_rate = FeedSevere(&plain, {{8.5, 0.08}}, 0.15, 7.2, 11, &plain_wide);
  ThresholdOptions o = Compact();
  o.rest_budget = 1;
  SiteThreshold rest(o);
  double wide = 0;
  const double rate = FeedSevere(&rest, {{8.5, 0.08}}, 0.15, 7.2, 11, &wide);
  EXPECT_EQ(rest.stage(), ThresholdStage::kAdapted);
  EXPECT_LT(rest.Threshold(), plain.Threshold());
  EXPECT_GT(rest.Threshold(), 6.0);  // the top of the wide mass only
  // The wide mass (15% of lines, none of them incidents) now takes up to the budget, no more:
  // 1% of the 92% of lines below the clusters, in whole histogram bins (one bin of the wide mass
  // holds about 0.45% of the lines; the incident's lower tail below its valley comes first).
  EXPECT_LT(plain_wide * 0.15, 0.001);
  EXPECT_GT(wide * 0.15, 0.002);
  EXPECT_LE(wide * 0.15, 0.0095);
  EXPECT_NEAR(rate - plain_rate, wide * 0.15 - plain_wide * 0.15, 0.002);
  EXPECT_NEAR(rest.adapted_rate(), 0.08 + 0.0092, 0.02);
  // A quarter of the budget: fewer wide lines, none once the share is below the incident's tail.
  o.rest_budget = 0.25;
  SiteThreshold quarter(o);
  double quarter_wide = 1;
  FeedSevere(&quarter, {{8.5, 0.08}}, 0.15, 7.2, 11, &quarter_wide);
  EXPECT_LT(quarter_wide, wide);
  EXPECT_LE(quarter.Threshold(), plain.Threshold());
}

TEST(SiteThresholdTest, RestBudgetTakesTiedScoresWholeOrNotAtAll) {
  ThresholdOptions o = Compact();
  o.rest_budget = 1;
  o.max_cluster_share = 0.1;  // the tie below is no incident cluster: the clusters may hold 10%
  SiteThreshold t(o);
  // An incident at 7.5 (7%), a tie at exactly 5.0 on 10% of the lines (alarm words: one routine
  // message repeated), routine lines at 1. The tie is ten times what the rest's budget allows.
  int tie_alerts = 0;
  for (int i = 0; i < 6000; ++i) {
    const int k = i % 100;
    const double score = k < 7 ? 7.5 + 0.01 * (i % 3) : (k < 17 ? 5.0 : 1.0);
    const bool alert = t.Decide(score, k < 17);
    if (k >= 7 && k < 17 && i >= 3000) tie_alerts += alert ? 1 : 0;
  }
  EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
  EXPECT_GT(t.Threshold(), 5.0);
  EXPECT_EQ(tie_alerts, 0);
  EXPECT_NEAR(t.adapted_rate(), 0.07, 0.001);
}

TEST(SiteThresholdTest, RuleNamesParse) {
  ThresholdRule r = ThresholdRule::kValley;
  EXPECT_TRUE(ParseRule("", &r));
  EXPECT_EQ(r, ThresholdRule::kCompact);
  EXPECT_TRUE(ParseRule("valley", &r));
  EXPECT_EQ(RuleName(r), "valley");
  EXPECT_TRUE(ParseRule("compact", &r));
  EXPECT_EQ(RuleName(r), "compact");
  EXPECT_FALSE(ParseRule("otsu", &r));
}

TEST(SiteThresholdTest, MaxF1ThresholdSplitsBetweenTheClasses) {
  double t = 0, f1 = 0;
  EXPECT_FALSE(MaxF1Threshold({1, 2, 3}, {0, 0, 0}, &t));
  ASSERT_TRUE(MaxF1Threshold({0.5, 1, 2, 3, 4}, {0, 0, 0, 1, 1}, &t, &f1));
  EXPECT_DOUBLE_EQ(t, 2.5);
  EXPECT_DOUBLE_EQ(f1, 1.0);
  // Only anomalous labels: the lowest of them is the cut.
  ASSERT_TRUE(MaxF1Threshold({3, 4}, {1, 1}, &t));
  EXPECT_DOUBLE_EQ(t, 3.0);
  // Equal scores fall on one side: {2 (normal), 2 (anomalous)} cannot be split.
  ASSERT_TRUE(MaxF1Threshold({2, 2, 1}, {0, 1, 0}, &t, &f1));
  EXPECT_DOUBLE_EQ(t, 1.5);
  EXPECT_NEAR(f1, 2.0 / 3.0, 1e-12);
}

TEST(SiteThresholdTest, LabelsMoveTheThresholdMoreAsTheyGrow) {
  ThresholdOptions o;
  o.label_prior = 10;
  SiteThreshold t(o);
  Feed(&t, {}, 3000, 3);
  const double free = t.LabelFreeThreshold();
  ASSERT_EQ(t.stage(), ThresholdStage::kAdapted);
  // Labels say the incidents are the lines above 5.5 only.
  t.AddLabel(0.9, 0);  // a normal label alone does not start the labelled stage
  EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
  t.AddLabel(5.0, 0);
  t.AddLabel(6.0, 1);
  EXPECT_EQ(t.stage(), ThresholdStage::kLabelled);
  const double labelled = 5.5;
  const double few = t.Threshold();
  EXPECT_NEAR(few, free + 3.0 / 13.0 * (labelled - free), 1e-9);
  for (int i = 0; i < 97; ++i) t.AddLabel(i % 2 ? 6.0 : 5.0, i % 2);
  const double many = t.Threshold();
  EXPECT_GT(many, few);
  EXPECT_NEAR(many, free + 100.0 / 110.0 * (labelled - free), 1e-9);
  // And it decides with it: a 5.2 no longer alerts, a 6.1 does.
  EXPECT_FALSE(t.Decide(5.2, true));
  EXPECT_TRUE(t.Decide(6.1, true));
}

TEST(SiteThresholdTest, ValidateNamesTheField) {
  {
    ThresholdOptions o;
    o.max_cluster_share = 1.5;
    EXPECT_NE(o.Validate().message().find("max_cluster_share"), std::string::npos);
  }
  ThresholdOptions o;
  o.max_alert_rate = 0.7;
  EXPECT_NE(o.Validate().message().find("max_alert_rate"), std::string::npos);
  o = {};
  o.label_prior = 0;
  EXPECT_NE(o.Validate().message().find("label_prior"), std::string::npos);
  o = {};
  o.cluster_width = 0;
  EXPECT_NE(o.Validate().message().find("cluster_width"), std::string::npos);
  o = {};
  o.rest_budget = 1.5;
  EXPECT_NE(o.Validate().message().find("rest_budget"), std::string::npos);
  o.rest_budget = -0.1;
  EXPECT_NE(o.Validate().message().find("rest_budget"), std::string::npos);
  EXPECT_TRUE(ThresholdOptions{}.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
