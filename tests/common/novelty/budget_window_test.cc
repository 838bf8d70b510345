// The budget window of the label-free line decision (budget_window.h,
// NoveltyOptions::budget_window): over any run of `budget_window` lines the alerts below the
// incident clusters stay within the budget's share of those lines; the clusters are neither counted
// nor throttled.
#include "common/novelty/budget_window.h"

#include <cmath>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "gtest/gtest.h"
#include "tests/common/novelty/routine_event.h"

namespace fedlog::novelty {
namespace {

TEST(BudgetWindowTest, CountsAlertsBelowTheValleyAgainstTheBudgetsShare) {
  BudgetWindow w(400);
  TailHistogram bins;
  for (int i = 0; i < 300; ++i) w.Add(1.0 + 0.01 * (i % 50), i % 100 == 0);  // 3 alerts, low scores
  for (int i = 0; i < 100; ++i) w.Add(20.0, true);                           // an incident cluster
  EXPECT_EQ(w.size(), 400);
  // No clusters: every line counts; 103 alerts against floor(0.01 * 400) = 4.
  EXPECT_EQ(w.LinesBelow(0), 400);
  EXPECT_EQ(w.AlertsBelow(0), 103);
  EXPECT_FALSE(w.Allows(1.5, 0, 0.01));
  // The clusters' valley (a bin's lower edge, as SiteThreshold gives it) between the two: 300 lines
  // below it hold 3 alerts; floor(0.01 * 300) = 3 leaves no room for a fourth.
  const double valley = bins.LowerEdge(bins.BinOf(20.0));
  EXPECT_EQ(w.LinesBelow(valley), 300);
  EXPECT_EQ(w.AlertsBelow(valley), 3);
  EXPECT_FALSE(w.Allows(1.5, valley, 0.01));
  EXPECT_TRUE(w.Allows(1.5, valley, 0.02));  // floor(0.02 * 300) = 6
  // A line at or above the valley is an incident's: never withheld.
  EXPECT_TRUE(w.Allows(20.0, valley, 0.01));
  EXPECT_TRUE(w.Allows(valley, valley, 0.01));
  EXPECT_EQ(w.Cap(valley, 0.01), 3);
}

// While fewer lines than the window were seen, the lines to come count as below the clusters: at
// most the budget's share of the whole window in its first lines ("100 alerts in any 10,000
// lines").
TEST(BudgetWindowTest, TheFirstLinesShareTheWholeWindowsBudget) {
  BudgetWindow w(1000);
  TailHistogram bins;
  for (int i = 0; i < 300; ++i) w.Add(1.0, i % 50 == 0);  // 6 alerts
  for (int i = 0; i < 100; ++i) w.Add(20.0, true);        // an incident cluster
  const double valley = bins.LowerEdge(bins.BinOf(20.0));
  EXPECT_EQ(w.Cap(valley, 0.01), 9);         // floor(0.01 * (1000 - 100))
  EXPECT_EQ(w.Cap(0, 0.01), 10);             // no clusters: floor(0.01 * 1000)
  EXPECT_TRUE(w.Allows(1.0, valley, 0.01));  // 6 + 1 <= 9
  EXPECT_FALSE(w.Allows(1.0, 0, 0.01));      // 106 + 1 > 10
  for (int i = 0; i < 600; ++i) w.Add(1.0, false);
  EXPECT_EQ(w.size(), 1000);
  EXPECT_EQ(w.Cap(valley, 0.01), 9);  // full: the share of the 900 lines below the valley
}

TEST(BudgetWindowTest, ForgetsOldLinesAndSetsHeldLines) {
  BudgetWindow w(200);
  const int64_t first = w.Add(5.0, false);
  EXPECT_EQ(first, 0);
  w.Set(first, 6.0, true);  // a held line decided at release
  EXPECT_EQ(w.AlertsBelow(0), 1);
  w.Set(first, 6.0, true);  // the same verdict twice counts once
  EXPECT_EQ(w.AlertsBelow(0), 1);
  for (int i = 0; i < 199; ++i) w.Add(1.0, false);
  EXPECT_EQ(w.size(), 200);
  EXPECT_TRUE(w.Allows(1.0, 0, 0.01));    // 1 + 1 <= floor(0.01 * 200)
  EXPECT_FALSE(w.Allows(1.0, 0, 0.005));  // 1 + 1 > floor(0.005 * 200)
  w.Add(1.0, false);                      // line 0 leaves the window
  EXPECT_EQ(w.AlertsBelow(0), 0);
  EXPECT_TRUE(w.Allows(1.0, 0, 0.005));
  w.Set(first, 6.0, true);  // gone: nothing changes
  EXPECT_EQ(w.AlertsBelow(0), 0);
}

using testing::Routine;
using testing::Severe;

// Quiet routine lines, severe lines in the warm-up hold, then a stretch where a third of the lines
// are distinct severe messages: the histogram threshold (a quantile over the whole stream) alerts
// them all, far past the budget's share of that stretch.
LineEvent Overspending(int64_t i, std::vector<std::string>* texts) {
  if (i < 256 && i % 16 == 0) return Severe(40, "machine check: cpu stalled");
  if (i >= 3000 && i < 3600 && i % 3 == 0) {
    texts->push_back("ciod: job " + std::to_string(i) + " failed on node " + std::to_string(i * 7));
    return Severe(static_cast<int32_t>(100 + i), texts->back());
  }
  return Routine(static_cast<int32_t>(i % 9));
}

struct Scored {
  std::vector<uint8_t> alert;
  int64_t withheld = 0;
  bool adapted = false;
};

Scored Score(const NoveltyOptions& o, int64_t lines) {
  NoveltyScorer scorer(o);
  Scored run;
  run.alert.assign(static_cast<size_t>(lines), 0);
  std::vector<std::string> texts;
  texts.reserve(static_cast<size_t>(lines));
  std::vector<HeldVerdict> released;
  for (int64_t i = 0; i < lines; ++i) {
    const LineScore s = scorer.ScoreAndLearn(Overspending(i, &texts), i);
    run.alert[static_cast<size_t>(i)] = s.alert ? 1 : 0;
    run.withheld += s.withheld ? 1 : 0;
    run.adapted = run.adapted || scorer.threshold().stage() == ThresholdStage::kAdapted;
    scorer.TakeReleased(&released);
    for (const HeldVerdict& v : released) {
      run.alert[static_cast<size_t>(v.line_index)] = v.alert ? 1 : 0;
      run.withheld += v.withheld ? 1 : 0;
    }
    released.clear();
  }
  return run;
}

// The most alerts over any run of `window` lines (the stream so far while shorter), and whether any
// holds more than floor(budget x window).
int64_t WorstWindow(const std::vector<uint8_t>& alert, int64_t window, double budget, bool* over) {
  int64_t in = 0, worst = 0;
  for (size_t i = 0; i < alert.size(); ++i) {
    in += alert[i];
    if (static_cast<int64_t>(i) >= window) in -= alert[i - static_cast<size_t>(window)];
    worst = std::max(worst, in);
  }
  *over = static_cast<double>(worst) > std::floor(budget * static_cast<double>(window));
  return worst;
}

TEST(BudgetWindowScorerTest, EveryTrailingWindowKeepsTheBudgetWhereTheThresholdOverspends) {
  NoveltyOptions off;
  off.expected_alert_rate = 0.01;
  off.max_alert_rate = off.expected_alert_rate;  // no adaptation: no clusters, every alert counts
  off.budget_window = 0;
  NoveltyOptions on = off;
  on.budget_window = 1000;
  const Scored plain = Score(off, 5000), guarded = Score(on, 5000);
  EXPECT_FALSE(plain.adapted);
  bool over = false;
  const int64_t worst_off = WorstWindow(plain.alert, on.budget_window, 0.01, &over);
  EXPECT_TRUE(over);         // the threshold alone breaks the budget over some 1,000 lines
  EXPECT_GT(worst_off, 20);  // twice the budget of a 1,000-line window
  EXPECT_EQ(plain.withheld, 0);
  const int64_t worst_on = WorstWindow(guarded.alert, on.budget_window, 0.01, &over);
  EXPECT_FALSE(over);  // every run of 1,000 lines within the budget
  EXPECT_LE(worst_on, 10);
  EXPECT_GT(worst_on, 0);  // the budget is spent, not switched off
  EXPECT_GT(guarded.withheld, 0);
  // Only alerts are withheld: the guard never adds one.
  for (size_t i = 0; i < guarded.alert.size(); ++i)
    ASSERT_LE(guarded.alert[i], plain.alert[i]) << i;
}

// A repeated severe event that the compact rule takes for an incident: the budget window leaves its
// alerts alone (it counts only the lines below the clusters' valley).
LineEvent WithIncident(int64_t i, std::vector<std::string>* texts) {
  if (i >= 1000 && i < 1400 && i % 2 == 0) return Severe(50, "data TLB error interrupt");
  return Overspending(i, texts);
}

TEST(BudgetWindowScorerTest, IncidentClustersAreNotThrottled) {
  NoveltyOptions off;
  off.budget_window = 0;
  NoveltyOptions on = off;
  on.budget_window = 1000;
  NoveltyScorer plain(off), guarded(on);
  std::vector<std::string> a, b;
  a.reserve(5000);
  b.reserve(5000);
  int64_t incident_off = 0, incident_on = 0, adapted = 0;
  for (int64_t i = 0; i < 1400; ++i) {
    const LineEvent e = WithIncident(i, &a);
    const LineScore p = plain.ScoreAndLearn(e, i);
    const LineScore g = guarded.ScoreAndLearn(WithIncident(i, &b), i);
    ASSERT_DOUBLE_EQ(p.score, g.score) << i;
    adapted += guarded.threshold().stage() == ThresholdStage::kAdapted ? 1 : 0;
    if (i >= 1100 && e.template_id == 50) {  // once the rule has seen the incident
      incident_off += p.alert ? 1 : 0;
      incident_on += g.alert ? 1 : 0;
    }
  }
  ASSERT_GT(adapted, 0);
  EXPECT_GT(incident_off, 100);
  EXPECT_EQ(incident_on, incident_off);
}

TEST(BudgetWindowScorerTest, WindowIsCheckedAndHoldsAtLeastOneAlert) {
  NoveltyOptions o;
  EXPECT_EQ(o.budget_window, 5000);  // on by default (session 15)
  o.expected_alert_rate = 0.01;
  o.budget_window = -1;
  EXPECT_NE(o.Validate().message().find("budget_window"), std::string::npos);
  o.budget_window = 1000001;
  EXPECT_FALSE(o.Validate().ok());
  o.budget_window = 0;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(BudgetWindowLines(o), 0);
  o.budget_window = 50;  // a budget of half a line is raised to one line's worth
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(BudgetWindowLines(o), 100);
  o.budget_window = 5000;
  o.expected_alert_rate = 0.0001;
  EXPECT_EQ(BudgetWindowLines(o), 10000);
}

}  // namespace
}  // namespace fedlog::novelty
