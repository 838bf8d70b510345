// The label-free scorer's session-9 and session-10 terms: the fixed-message and path terms on severe
// lines and the warm-up hold (held lines decided once the stream is long enough, with their severity
// term computed again).
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "common/novelty/severity.h"
#include "gtest/gtest.h"
#include "tests/common/novelty/routine_event.h"

namespace fedlog::novelty {
namespace {

using testing::Routine;

LineEvent Fatal(int32_t tpl, std::string_view content, const std::vector<std::string_view>& params) {
  LineEvent e = Routine(tpl);
  e.level = "FATAL";
  e.content = content;
  e.params = params;
  return e;
}

TEST(FixedMessageTest, FixedSevereMessageOutranksOneWithAValue) {
  NoveltyOptions o;
  o.fixed_weight = 1.5;
  o.path_weight = 0;   // the path term alone: PathValueTest
  o.quiet_weight = 0;  // the quiet-component term alone: quiet_test.cc
  NoveltyScorer scorer(o);
  int64_t i = 0;
  for (; i < 300; ++i) scorer.ScoreAndLearn(Routine(static_cast<int32_t>(i % 3)), i);
  // Same level, no failure words, no recurrence: only the fixed-message term differs.
  const LineScore fixed = scorer.ScoreAndLearn(Fatal(70, "data storage interrupt", {}), i++);
  const LineScore valued = scorer.ScoreAndLearn(Fatal(71, "loading /home/u/app interrupt", {"/home/u/app"}), i++);
  EXPECT_NEAR(fixed.severity_term - valued.severity_term, 1.5, 1e-9);
  EXPECT_NEAR(fixed.severity_term, 4.0 + 1.5, 1e-9);
  // A routine line without parameters gets nothing: the term is for severe levels only.
  EXPECT_DOUBLE_EQ(scorer.ScoreAndLearn(Routine(1), i++).severity_term, 0.0);
  // Off: both score alike.
  o.fixed_weight = 0;
  NoveltyScorer off(o);
  EXPECT_DOUBLE_EQ(off.Peek(Fatal(70, "data storage interrupt", {}), 0),
                   off.Peek(Fatal(71, "loading /home/u/app interrupt", {"/home/u/app"}), 0));
}

// Session 10: a severe line whose parameter is a file path ranks path_weight lower; a parameter
// that is no path (a register value), or a line below the severe levels, does not.
TEST(PathValueTest, ASevereLineWithAPathParameterRanksLower) {
  EXPECT_TRUE(IsPathValue("/home/u/app"));
  EXPECT_TRUE(IsPathValue("chdir(/p/gb1/run)"));
  EXPECT_FALSE(IsPathValue("0x0023a7c0"));
  EXPECT_FALSE(IsPathValue("12/34"));  // no letter: a ratio or a date, not a path
  EXPECT_FALSE(IsPathValue("bglio11"));
  NoveltyOptions o;
  ASSERT_DOUBLE_EQ(o.path_weight, 1.0);
  NoveltyScorer scorer(o);
  int64_t i = 0;
  for (; i < 300; ++i) scorer.ScoreAndLearn(Routine(static_cast<int32_t>(i % 3)), i);
  const LineScore path = scorer.ScoreAndLearn(Fatal(71, "loading /home/u/app interrupt", {"/home/u/app"}), i++);
  const LineScore value = scorer.ScoreAndLearn(Fatal(72, "loading 0x0023a7c0 interrupt", {"0x0023a7c0"}), i++);
  EXPECT_NEAR(value.severity_term - path.severity_term, 1.0, 1e-9);
  LineEvent warn = Fatal(73, "loading /home/u/app", {"/home/u/app"});
  warn.level = "WARN";
  EXPECT_DOUBLE_EQ(scorer.ScoreAndLearn(warn, i++).severity_term,
                   4.0 * WithinLevelSeverity("WARN", "loading /home/u/app", o.within_level));
  // Held lines keep it at release: the same two held lines with the term on and off.
  std::vector<std::vector<HeldVerdict>> released(2);
  for (int k = 0; k < 2; ++k) {
    NoveltyOptions h = o;
    h.hold_lines = 2;
    h.path_weight = k == 0 ? 1.0 : 0.0;
    NoveltyScorer held(h);
    held.ScoreAndLearn(Fatal(71, "loading /home/u/app interrupt", {"/home/u/app"}), 0);
    held.ScoreAndLearn(Fatal(72, "loading 0x0023a7c0 interrupt", {"0x0023a7c0"}), 1);
    held.TakeReleased(&released[static_cast<size_t>(k)]);
    ASSERT_EQ(released[static_cast<size_t>(k)].size(), 2u);
  }
  EXPECT_NEAR(released[1][0].score - released[0][0].score, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(released[1][1].score, released[0][1].score);
  o.path_weight = 0;
  NoveltyScorer off(o);
  EXPECT_DOUBLE_EQ(off.Peek(Fatal(71, "loading /home/u/app interrupt", {"/home/u/app"}), 0),
                   off.Peek(Fatal(71, "loading /home/u/app interrupt", {"0x0023a7c0"}), 0));
}

// An incident that starts with the stream: without the hold its first lines fall in the warm-up
// and are never alerted; with it they are decided at line hold_lines, with their recurrence known.
TEST(WarmupHoldTest, HeldIncidentLinesAlertAtRelease) {
  for (int64_t hold : {int64_t{0}, int64_t{300}}) {
    NoveltyOptions o;
    o.hold_lines = hold;
    o.quiet_weight = 0;  // the recurrence alone is computed again below; quiet_test.cc checks its own
    o.recurrence_age_lines = 0;  // as a count (recurrence_rate_test.cc checks the rate at release)
    // The hold, not the threshold rule, is under test: the valley rule's cut lies well below the
    // incident (the compact rule cuts at the incident cluster's lowest bin).
    o.threshold_rule = ThresholdRule::kValley;
    NoveltyScorer scorer(o);
    std::vector<int64_t> incident;
    std::vector<LineScore> first(300);
    std::vector<HeldVerdict> released;
    for (int64_t i = 0; i < 600; ++i) {
      const bool bad = i < 300 && i % 10 == 0;  // 30 incident lines in the first 300
      const LineEvent e = bad ? Fatal(50, "data TLB error interrupt", {}) : Routine(static_cast<int32_t>(i % 4));
      const LineScore s = scorer.ScoreAndLearn(e, i);
      if (i < 300) first[static_cast<size_t>(i)] = s;
      if (bad) incident.push_back(i);
      scorer.TakeReleased(&released);
      if (hold > 0 && i == 298) {
        EXPECT_TRUE(released.empty());
      }
      if (hold > 0 && i == 299) {
        EXPECT_EQ(released.size(), 300u);
      }
    }
    EXPECT_EQ(scorer.held_lines(), 0);
    if (hold == 0) {
      EXPECT_TRUE(released.empty());
      for (int64_t i : incident) EXPECT_FALSE(first[static_cast<size_t>(i)].held);
      EXPECT_FALSE(first[0].alert);  // warm-up: never alerted
      continue;
    }
    ASSERT_EQ(released.size(), 300u);
    for (size_t k = 0; k < released.size(); ++k) {
      EXPECT_EQ(released[k].line_index, static_cast<int64_t>(k));
      EXPECT_TRUE(first[k].held);
      EXPECT_FALSE(first[k].alert);
    }
    int alerted = 0;
    for (int64_t i : incident) {
      const HeldVerdict& v = released[static_cast<size_t>(i)];
      alerted += v.alert ? 1 : 0;
      // Calibrated at release like a live line's score (the few-shot threshold uses it).
      EXPECT_GT(v.p_value, 0.0);
      if (v.alert) {
        EXPECT_LT(v.p_value, 0.5) << i;
      }
      // The severity term is computed again: 30 earlier severe lines of the template now.
      EXPECT_NEAR(v.score - first[static_cast<size_t>(i)].score,
                  0.4 * (std::log1p(30.0) - std::log1p(static_cast<double>(i / 10))), 1e-9);
    }
    EXPECT_EQ(alerted, 30);
    for (size_t k = 0; k < released.size(); ++k) {
      if (k % 10 != 0) {
        EXPECT_FALSE(released[k].alert) << k;
      }
    }
    // After the hold, lines are decided at once.
    EXPECT_FALSE(scorer.ScoreAndLearn(Fatal(50, "data TLB error interrupt", {}), 600).held);
  }
}

TEST(WarmupHoldTest, ReleaseHeldEndsTheHoldEarly) {
  NoveltyOptions o;
  o.hold_lines = 1000;
  NoveltyScorer scorer(o);
  for (int64_t i = 0; i < 150; ++i) EXPECT_TRUE(scorer.ScoreAndLearn(Routine(1), i).held);
  EXPECT_EQ(scorer.held_lines(), 150);
  scorer.ReleaseHeld();  // e.g. the live delay bound ran out
  std::vector<HeldVerdict> released;
  scorer.TakeReleased(&released);
  EXPECT_EQ(released.size(), 150u);
  EXPECT_EQ(scorer.held_lines(), 0);
  EXPECT_FALSE(scorer.ScoreAndLearn(Routine(1), 150).held);
  scorer.TakeReleased(&released);
  EXPECT_EQ(released.size(), 150u);
}

TEST(WarmupHoldTest, OptionsAreChecked) {
  NoveltyOptions o;
  o.hold_lines = -1;
  EXPECT_FALSE(o.Validate().ok());
  o.hold_lines = 256;
  EXPECT_TRUE(o.Validate().ok());
  o.fixed_weight = -0.5;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
