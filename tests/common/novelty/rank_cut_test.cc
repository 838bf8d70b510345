// The label-free line decision's rank cut (rank_cut.h): the histogram rule's count of alerts among
// the recent lines, capped at the incident clusters plus the budget's share of the other lines, given
// to the highest-ranked lines; and the scorer deciding with it (NoveltyOptions::rank_window).
#include "common/novelty/rank_cut.h"

#include <cmath>
#include <random>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "gtest/gtest.h"
#include "tests/common/novelty/routine_event.h"

namespace fedlog::novelty {
namespace {

TEST(RankCutTest, CutsAtTheHistogramRulesCountAmongTheWindow) {
  RankCut cut(100);
  EXPECT_TRUE(std::isinf(cut.Cut(0, 0.5)));  // nothing seen, nothing alerted
  for (int s = 1; s <= 10; ++s) cut.Add(s, s == 2 || s == 5 || s == 9);
  EXPECT_EQ(cut.alerts(), 3);
  // Three alerts in the window: the cut is the third largest score, whichever lines they were.
  EXPECT_EQ(cut.Count(0, 0.5), 3);
  EXPECT_DOUBLE_EQ(cut.Cut(0, 0.5), 8.0);
}

TEST(RankCutTest, TheBudgetCapsTheCountOutsideTheClusters) {
  RankCut cut(1000);
  for (int s = 0; s < 100; ++s) cut.Add(s, s % 5 == 0);  // 20 alerts, many below any cluster
  // No clusters: at most the budget's share of the window (floor(0.05 * 100) = 5).
  EXPECT_EQ(cut.Count(0, 0.05), 5);
  EXPECT_DOUBLE_EQ(cut.Cut(0, 0.05), 95.0);
  // Ten lines at or above the clusters' valley are taken as incidents; the other 90 lines get
  // floor(0.05 * 90) = 4 more.
  EXPECT_EQ(cut.Count(90, 0.05), 14);
  EXPECT_DOUBLE_EQ(cut.Cut(90, 0.05), 86.0);
  // Never more than the histogram rule alerted.
  EXPECT_EQ(cut.Count(1, 0.05), 20);
}

// R1 of session 13 cut before adding the line: a burst whose scores fall line after line was then
// never alerted after its first line. With the line in the window each alerted line of it is cut in.
TEST(RankCutTest, ABurstWhoseScoresFallIsCutInLineByLine) {
  RankCut cut(1000);
  for (int i = 0; i < 200; ++i) cut.Add(1.0 + 0.001 * i, false);  // routine lines
  int alerted = 0;
  for (int i = 0; i < 50; ++i) {
    const double s = 9.4 - 0.001 * i;  // the histogram rule alerts each one
    cut.Add(s, true);
    alerted += s >= cut.Cut(0, 0.5) ? 1 : 0;
  }
  EXPECT_EQ(alerted, 50);
}

TEST(RankCutTest, TheWindowForgetsOldLines) {
  RankCut cut(4);
  cut.Add(10, true);
  EXPECT_TRUE(std::isinf(cut.Cut(0, 0.5)));  // one line: the budget's share of it is no line
  for (int i = 0; i < 3; ++i) cut.Add(1, false);
  EXPECT_EQ(cut.size(), 4);
  EXPECT_DOUBLE_EQ(cut.Cut(0, 0.5), 10.0);  // still in the window
  cut.Add(2, false);
  EXPECT_EQ(cut.size(), 4);
  EXPECT_EQ(cut.alerts(), 0);
  EXPECT_TRUE(std::isinf(cut.Cut(0, 0.5)));
}

TEST(RankCutTest, AHeldLinesVerdictCountsWhenRevised) {
  RankCut cut(3);
  const int64_t first = cut.Add(5, false);
  cut.Add(3, false);
  EXPECT_EQ(first, 0);
  EXPECT_TRUE(std::isinf(cut.Cut(0, 0.5)));
  cut.Revise(first, true);
  EXPECT_DOUBLE_EQ(cut.Cut(0, 0.5), 5.0);
  cut.Revise(first, true);  // the same verdict twice counts once
  EXPECT_EQ(cut.alerts(), 1);
  cut.Add(1, false);
  cut.Add(1, false);  // line 0 leaves the window
  EXPECT_EQ(cut.alerts(), 0);
  cut.Revise(first, true);  // gone: nothing changes
  EXPECT_EQ(cut.alerts(), 0);
}

// A histogram rule that spends three times the budget on a stream with no cluster: the rank cut
// alerts at most the budget's share (exchangeable scores: a line ranks in the top m of the window
// before it with probability m / (window + 1)). Test data only (seeded std::mt19937).
TEST(RankCutTest, WithoutClustersTheBudgetBoundsTheAlertRate) {
  std::mt19937 rng(5);
  std::normal_distribution<double> score(3.0, 1.0);
  std::uniform_real_distribution<double> u(0, 1);
  RankCut cut(4096);
  int64_t alerts = 0, lines = 0;
  for (int i = 0; i < 40000; ++i) {
    const double s = score(rng);
    if (i >= 4096) {
      alerts += s >= cut.Cut(0, 0.01) ? 1 : 0;
      ++lines;
    }
    cut.Add(s, u(rng) < 0.03);
  }
  const double rate = static_cast<double>(alerts) / static_cast<double>(lines);
  EXPECT_LE(rate, 0.0115);
  EXPECT_GE(rate, 0.008);
}

using testing::Routine;
using testing::Severe;

// A stream with an incident in the warm-up hold, later incident bursts and scattered severe lines.
LineEvent StreamLine(int64_t i, std::mt19937* rng) {
  std::uniform_int_distribution<int> pick(0, 99);
  const int r = pick(*rng);
  if (i < 256 && i % 8 == 0) return Severe(50, "data TLB error interrupt");
  if (i > 1500 && i < 1600 && i % 4 == 0) return Severe(51, "Lustre mount FAILED");
  if (r < 2) return Severe(60 + r, "ciod: Error loading program");
  return Routine(static_cast<int32_t>(r % 7));
}

// The scorer decides every label-free line after the hold by the rank cut over the histogram
// rule's own decisions (the held lines' at release); the scores do not change; 0 is session 12's rule.
TEST(RankCutScorerTest, TheScorerDecidesByTheRankCutOverTheHistogramRulesDecisions) {
  ASSERT_EQ(NoveltyOptions{}.rank_window, 0);  // off by default (session 13: lost on BGL-20k)
  NoveltyOptions on;
  on.rank_window = 4096;
  NoveltyOptions off = on;
  off.rank_window = 0;
  NoveltyScorer ranked(on), plain(off);
  std::mt19937 a(3), b(3);
  std::vector<HeldVerdict> released;
  RankCut replay(on.rank_window);
  std::vector<int64_t> held_seq;
  int64_t checked = 0, differ = 0;
  for (int64_t i = 0; i < 3000; ++i) {
    // The clusters before the line; the window with the line (no value reports in this stream).
    const double valley = plain.threshold().ClusterValley();
    const LineScore r = ranked.ScoreAndLearn(StreamLine(i, &a), i);
    const LineScore p = plain.ScoreAndLearn(StreamLine(i, &b), i);
    ASSERT_DOUBLE_EQ(r.score, p.score) << i;
    if (p.held) held_seq.push_back(replay.Add(p.score, false));
    else replay.Add(p.score, p.alert);
    if (!r.held && r.stage != ThresholdStage::kWarmup) {
      const double cut = replay.Cut(valley, on.expected_alert_rate);
      ASSERT_EQ(r.alert, r.score > 0 && r.score >= cut) << i;
      ASSERT_DOUBLE_EQ(r.threshold, cut) << i;
      ++checked;
      differ += r.alert != p.alert ? 1 : 0;
    }
    plain.TakeReleased(&released);
    for (const HeldVerdict& v : released) replay.Revise(held_seq[static_cast<size_t>(v.line_index)], v.alert);
    released.clear();
  }
  EXPECT_GT(checked, 2500);
  EXPECT_GT(differ, 0);  // the rank cut is not the histogram threshold under another name
}

TEST(RankCutScorerTest, WindowIsChecked) {
  NoveltyOptions o;
  o.rank_window = -1;
  EXPECT_NE(o.Validate().message().find("rank_window"), std::string::npos);
  o.rank_window = 65537;
  EXPECT_FALSE(o.Validate().ok());
  o.rank_window = 0;
  EXPECT_TRUE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
