// Session 18's label-free line threshold options: the rest's cut inside a histogram bin
// (ThresholdOptions::rest_interpolate) and the value-report rules kept for field reports
// (NoveltyOptions::reports_field_only).
#include <cmath>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "common/novelty/severity.h"
#include "common/novelty/site_threshold.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

constexpr double kBinsPerUnit = 48;  // TailHistogram's default

// An incident at 7.5 on 7% of the lines, routine severe lines spread evenly over ONE histogram bin
// (bin 86, [4.998, 5.125)) on 2% of them, routine lines at 1 on the rest. The rest's share of the
// budget (1% of the 93% below the incident's valley, 0.93% of the lines) is less than that bin holds.
struct RestRun {
  int spread_alerts = 0;  // alerts on the spread lines, second half
  int spread_lines = 0;
  int routine_alerts = 0;
  double threshold = 0;
  double rate = 0;
  ThresholdStage stage = ThresholdStage::kWarmup;
};

RestRun RunRest(bool interpolate) {
  ThresholdOptions o;
  o.rule = ThresholdRule::kCompact;
  o.rest_budget = 1;
  o.max_cluster_share = 0.08;  // the spread bin is no incident cluster: the clusters hold at most 8%
  o.rest_interpolate = interpolate;
  SiteThreshold t(o);
  RestRun r;
  for (int i = 0; i < 10000; ++i) {
    const int k = i % 100;
    double score = 1.0;
    if (k < 7) score = 7.5 + 0.01 * (i % 3);
    // 50 evenly spaced positions inside bin 86, cycling (each position twice over the second half).
    const int j = 2 * (i / 100) + (k - 7);
    if (k == 7 || k == 8) score = std::expm1((86.0 + (j % 50 + 0.5) / 50.0) / kBinsPerUnit);
    const bool alert = t.Decide(score, k < 9);
    if (i < 5000) continue;
    if (k == 7 || k == 8) {
      ++r.spread_lines;
      r.spread_alerts += alert ? 1 : 0;
    } else if (k >= 9) {
      r.routine_alerts += alert ? 1 : 0;
    }
  }
  r.threshold = t.Threshold();
  r.rate = t.adapted_rate();
  r.stage = t.stage();
  return r;
}

TEST(RestCutTest, InterpolationTakesThePartOfABinTheShareAllows) {
  EXPECT_FALSE(ThresholdOptions{}.rest_interpolate);
  EXPECT_FALSE(NoveltyOptions{}.rest_interpolate);
  const RestRun whole = RunRest(false);
  const RestRun part = RunRest(true);
  ASSERT_EQ(whole.stage, ThresholdStage::kAdapted);
  ASSERT_EQ(part.stage, ThresholdStage::kAdapted);
  // Whole bins: the spread bin does not fit, so the cut stays at the incident's valley.
  EXPECT_EQ(whole.spread_alerts, 0);
  EXPECT_GT(whole.threshold, 7.0);
  // In part: the cut falls inside bin 86, and the top 0.93 / 2 of its lines alert.
  const double lower = std::expm1(86 / kBinsPerUnit), upper = std::expm1(87 / kBinsPerUnit);
  EXPECT_GT(part.threshold, lower);
  EXPECT_LT(part.threshold, upper);
  const double share = static_cast<double>(part.spread_alerts) / part.spread_lines;
  EXPECT_NEAR(share, 0.0093 / 0.02, 0.05);
  EXPECT_NEAR(part.rate, 0.07 + 0.0093, 0.002);
  EXPECT_EQ(part.routine_alerts, 0);
  EXPECT_EQ(whole.routine_alerts, 0);
}

TEST(RestCutTest, WithoutARestShareThereIsNoCutToInterpolate) {
  // rest_budget 0 (the plain compact rule): no rest cut at all, so the switch changes nothing.
  std::vector<double> thresholds, rates;
  for (bool interpolate : {false, true}) {
    ThresholdOptions o;
    o.rule = ThresholdRule::kCompact;
    o.rest_budget = 0;
    o.max_cluster_share = 0.08;
    o.rest_interpolate = interpolate;
    SiteThreshold t(o);
    for (int i = 0; i < 4000; ++i) {
      const int k = i % 100;
      t.Decide(k < 7 ? 7.5 : (k < 9 ? 5.05 : 1.0), k < 9);
    }
    EXPECT_EQ(t.stage(), ThresholdStage::kAdapted);
    EXPECT_NEAR(t.adapted_rate(), 0.07, 0.001) << interpolate;  // the incident only
    thresholds.push_back(t.Threshold());
    rates.push_back(t.adapted_rate());
  }
  EXPECT_DOUBLE_EQ(thresholds[0], thresholds[1]);
  EXPECT_DOUBLE_EQ(rates[0], rates[1]);
}

LineEvent Line(int32_t tpl, std::string_view level, std::string_view content) {
  LineEvent e;
  e.template_id = tpl;
  e.level = level;
  e.component = "kernel";
  e.content = content;
  return e;
}

// A sentence that ends in a code is not a field report: with reports_field_only it loses neither the
// report term nor its place under the adapted threshold; a register line keeps both rules.
TEST(ReportsFieldOnlyTest, ACodeAtTheEndOfASentenceIsNoFieldReport) {
  const std::string_view code = "rts: kernel terminated for reason 1004";
  const std::string_view field = "instruction address: 0x00004ed8";
  ASSERT_TRUE(IsValueReport(code));
  ASSERT_FALSE(IsFieldReport(code));
  ASSERT_TRUE(IsFieldReport(field));
  EXPECT_FALSE(NoveltyOptions{}.reports_field_only);
  for (std::string_view content : {code, field}) {
    NoveltyOptions o;
    o.hold_lines = 0;
    NoveltyScorer all(o);
    o.reports_field_only = true;
    NoveltyScorer fields(o);
    LineEvent e = Line(3, "FATAL", content);
    const std::vector<std::string_view> params = {content.substr(content.rfind(' ') + 1)};
    e.params = params;
    const double diff = fields.ScoreAndLearn(e, 0).severity_term - all.ScoreAndLearn(e, 0).severity_term;
    EXPECT_NEAR(diff, content == code ? o.report_weight : 0.0, 1e-12) << content;
  }
}

// An incident (a fixed fatal message, 6% of the lines) comes with a fatal line that ends in a code
// (6%). The compact rule adapts below both clusters. By default the code line is a value report and
// waits for the budget threshold; with reports_field_only it alerts with the incident.
TEST(ReportsFieldOnlyTest, ACodeLineFollowsTheAdaptedThreshold) {
  for (bool field_only : {false, true}) {
    NoveltyOptions o;
    o.hold_lines = 0;
    o.reports_field_only = field_only;
    NoveltyScorer scorer(o);
    int incident_alerts = 0, code_alerts = 0, routine_alerts = 0;
    for (int64_t i = 0; i < 3000; ++i) {
      LineEvent e = Line(static_cast<int32_t>(i % 5), "INFO", "cache line corrected");
      const int kind = i % 50 < 3 ? 1 : (i % 50 < 6 ? 2 : 0);
      if (kind == 1) e = Line(40, "FATAL", "data TLB error interrupt");
      if (kind == 2) e = Line(41, "FATAL", "rts: kernel terminated for reason 1004");
      std::vector<std::string_view> params;
      if (kind == 2) params = {"1004"};
      e.params = params;
      const LineScore s = scorer.ScoreAndLearn(e, i);
      if (i < 1000) continue;
      (kind == 1 ? incident_alerts : kind == 2 ? code_alerts : routine_alerts) += s.alert ? 1 : 0;
    }
    EXPECT_EQ(scorer.threshold().stage(), ThresholdStage::kAdapted);
    EXPECT_GT(incident_alerts, 100) << field_only;
    EXPECT_EQ(routine_alerts, 0) << field_only;
    if (field_only) {
      EXPECT_GT(code_alerts, 100);
    } else {
      EXPECT_EQ(code_alerts, 0);
    }
  }
}

}  // namespace
}  // namespace fedlog::novelty
