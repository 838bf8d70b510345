// The label-free scorer's session-11 rules: the quiet-component term (a severe line from a component
// that rarely logs at a severe level ranks higher, LevelShare) and value reports keeping the budget
// threshold while the label-free threshold is adapted (NoveltyOptions::reports_adapt).
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "common/novelty/severity.h"
#include "common/novelty/signals.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

LineEvent Line(int32_t tpl, std::string_view level, std::string_view component, std::string_view content) {
  LineEvent e;
  e.template_id = tpl;
  e.level = level;
  e.component = component;
  e.content = content;
  return e;
}

TEST(LevelShareTest, SurpriseFollowsTheSevereShareAndItsCap) {
  LevelShare share;
  EXPECT_NEAR(share.Surprise(1, 10), std::log(2.0), 1e-12);  // never seen
  for (int i = 0; i < 99; ++i) share.Observe(1, false);
  share.Observe(1, true);
  EXPECT_NEAR(share.Surprise(1, 10), -std::log(1.5 / 101.0), 1e-12);
  EXPECT_NEAR(share.Surprise(1, 2.0), 2.0, 1e-12);  // capped
  for (int i = 0; i < 100; ++i) share.Observe(2, true);
  EXPECT_NEAR(share.Surprise(2, 10), -std::log(100.5 / 101.0), 1e-12);
  EXPECT_LT(share.Surprise(2, 10), 0.01);  // a component that logs everything at a severe level
  LevelShare full(1);
  full.Observe(1, false);
  full.Observe(2, false);  // past max_keys: not tracked
  EXPECT_NEAR(full.Surprise(2, 10), std::log(2.0), 1e-12);
}

// Two components: "kernel" logs at INFO, "app" logs everything at FATAL. The same fatal message ranks
// higher from the kernel, by quiet_weight times the difference of the two surprises.
TEST(QuietComponentTest, ASevereLineFromAQuietComponentRanksHigher) {
  NoveltyOptions o;
  ASSERT_DOUBLE_EQ(o.quiet_weight, 0.25);  // chosen on the tuning system (docs/EVALUATION.md "Session 11")
  o.hold_lines = 0;
  NoveltyScorer scorer(o);
  int64_t i = 0;
  for (; i < 400; ++i) {
    if (i % 4 == 0) {
      scorer.ScoreAndLearn(Line(9, "FATAL", "app", "job exited"), i);
    } else {
      scorer.ScoreAndLearn(Line(static_cast<int32_t>(i % 3), "INFO", "kernel", "cache line corrected"), i);
    }
  }
  const double cap = -std::log(o.expected_alert_rate);
  const double kernel_surprise = std::min(cap, -std::log(0.5 / 301.0));  // 300 INFO lines, 0 severe
  const double app_surprise = -std::log(100.5 / 101.0);                  // 100 FATAL lines
  const LineScore k = scorer.ScoreAndLearn(Line(20, "FATAL", "kernel", "link lost"), i++);
  const LineScore a = scorer.ScoreAndLearn(Line(21, "FATAL", "app", "link lost"), i++);
  EXPECT_NEAR(k.severity_term - a.severity_term, 0.25 * (kernel_surprise - app_surprise), 1e-9);
  EXPECT_NEAR(kernel_surprise, cap, 1e-12);  // the cap is -ln(budget)
  // Below the severe levels, and without a component, there is no term.
  const LineScore warn = scorer.ScoreAndLearn(Line(22, "WARN", "kernel", "link lost"), i++);
  EXPECT_DOUBLE_EQ(warn.severity_term, 4.0 * WithinLevelSeverity("WARN", "link lost", o.within_level));
  LineEvent bare = Line(23, "FATAL", "", "link lost");
  const LineScore none = scorer.ScoreAndLearn(bare, i++);
  EXPECT_NEAR(none.severity_term,
              4.0 * WithinLevelSeverity("FATAL", "link lost", o.within_level) + o.fixed_weight, 1e-9);
  // Off: the two lines score alike (their novelty terms aside).
  o.quiet_weight = 0;
  NoveltyScorer off(o);
  EXPECT_DOUBLE_EQ(off.Peek(Line(20, "FATAL", "kernel", "link lost"), 0),
                   off.Peek(Line(20, "FATAL", "app", "link lost"), 0));
}

// A held line gets the term from the history at release (its component is kept with it).
TEST(QuietComponentTest, HeldLinesGetTheTermAtRelease) {
  std::vector<std::vector<HeldVerdict>> released(2);
  for (int k = 0; k < 2; ++k) {
    NoveltyOptions o;
    o.hold_lines = 101;
    o.quiet_weight = k == 0 ? 0.5 : 0.0;
    NoveltyScorer scorer(o);
    scorer.ScoreAndLearn(Line(20, "FATAL", "kernel", "link lost"), 0);
    for (int64_t i = 1; i <= 100; ++i) {
      scorer.ScoreAndLearn(Line(1, "INFO", "kernel", "cache line corrected"), i);
    }
    scorer.TakeReleased(&released[static_cast<size_t>(k)]);
    ASSERT_EQ(released[static_cast<size_t>(k)].size(), 101u);
  }
  // At release the kernel has 1 severe line of 101: -ln(1.5 / 102).
  EXPECT_NEAR(released[0][0].score - released[1][0].score, 0.5 * -std::log(1.5 / 102.0), 1e-9);
}

TEST(ValueReportTest, ADumpLineIsAReportAFailureWithAValueIsNot) {
  EXPECT_TRUE(IsValueReport("instruction address: 0x00004ed8"));
  EXPECT_TRUE(IsValueReport("floating pt ex mode 0 enable......0"));
  EXPECT_FALSE(IsValueReport("Error receiving packet on tree network, type=57"));
  EXPECT_FALSE(IsValueReport("data TLB error interrupt"));
  EXPECT_FALSE(IsValueReport("Can not get assembly information for node card"));
}

// An incident (a fixed fatal message, 6% of the lines) comes with its dump (one register line
// repeated, 6%). The compact rule adapts below both clusters; the dump alerts only when value
// reports follow the adapted threshold, the incident alerts either way.
TEST(ValueReportTest, ReportsKeepTheBudgetThresholdWhileAdapted) {
  for (bool adapt : {true, false}) {
    NoveltyOptions o;
    o.hold_lines = 0;
    o.reports_adapt = adapt;
    NoveltyScorer scorer(o);
    int incident_alerts = 0, report_alerts = 0, routine_alerts = 0;
    bool adapted = false;
    for (int64_t i = 0; i < 3000; ++i) {
      LineEvent e = Line(static_cast<int32_t>(i % 5), "INFO", "kernel", "cache line corrected");
      const int kind = i % 50 < 3 ? 1 : (i % 50 < 6 ? 2 : 0);
      if (kind == 1) e = Line(40, "FATAL", "kernel", "data TLB error interrupt");
      if (kind == 2) e = Line(41, "FATAL", "kernel", "instruction address: 0x00004ed8");
      std::vector<std::string_view> params;
      if (kind == 2) params = {"0x00004ed8"};
      e.params = params;
      const LineScore s = scorer.ScoreAndLearn(e, i);
      if (i < 1000) continue;  // after the threshold adapted
      adapted = adapted || s.stage == ThresholdStage::kAdapted;
      (kind == 1 ? incident_alerts : kind == 2 ? report_alerts : routine_alerts) += s.alert ? 1 : 0;
    }
    EXPECT_TRUE(adapted);
    EXPECT_EQ(scorer.threshold().stage(), ThresholdStage::kAdapted);
    EXPECT_GT(incident_alerts, 100) << "adapt " << adapt;
    EXPECT_EQ(routine_alerts, 0) << "adapt " << adapt;
    if (adapt) {
      EXPECT_GT(report_alerts, 100);
    } else {
      EXPECT_EQ(report_alerts, 0);
    }
  }
}

}  // namespace
}  // namespace fedlog::novelty
