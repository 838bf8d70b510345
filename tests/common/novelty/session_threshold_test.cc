// The session threshold and the `rare` session signal on synthetic streams: a template few sessions
// have is rare among sessions; the threshold follows the share of structurally broken sessions
// above the budget (and only up to max_backed_share); labelled sessions move it.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/novelty/session_scorer.h"
#include "common/novelty/session_shape.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

TEST(SessionShapesTest, ATemplateFewSessionsHaveIsRare) {
  ShapeOptions o;
  o.quiet_ms = 10;
  SessionShapes s(o);
  std::vector<ClosedSession> closed;
  int64_t tick = 0;
  auto session = [&](uint64_t id, const std::vector<int32_t>& templates) {
    for (int32_t t : templates) s.Add(id, t, tick++, true, false, {}, &closed);
    tick += 100;
  };
  session(0, {1, 2, 9});  // judged before min_support sessions: no evidence
  for (uint64_t id = 1; id < 200; ++id) session(id, {1, 2, 2});
  session(500, {1, 2, 9});     // 9: in 1 of 200 closed sessions
  session(501, {1, 2, 7});     // 7: never seen
  session(502, {1, 1, 1, 2});  // common templates, odd counts
  s.Flush(&closed);
  ASSERT_EQ(closed.size(), 203u);
  EXPECT_EQ(closed[0].rare, 0);
  EXPECT_GT(closed[200].rare, 4.5);  // -log(1.5 / 201)
  EXPECT_EQ(closed[200].rarest_template, 9);
  EXPECT_GT(closed[201].rare, closed[200].rare);
  EXPECT_LT(closed[202].rare, 0.01);
}

// 2,000 sessions {1, 2, 3}; every `every`-th one instead ends with one of six exception templates
// (each in few sessions). Returns the alerts on the exception sessions and on the others.
struct Alerts {
  int broken = 0, broken_alerted = 0, usual_alerted = 0;
};
Alerts RunStream(const SessionOptions& so, int every, bool unique_exceptions,
                 double max_alert_rate = 0.25) {
  ThresholdOptions t;
  t.budget = 0.01;
  t.max_alert_rate = max_alert_rate;
  SessionScorer scorer(so, t, 6.0, 0.01);
  std::vector<SessionScore> out;
  std::vector<uint8_t> broken;
  int64_t tick = 0;
  for (uint64_t id = 0; id < 2000; ++id) {
    const bool odd = id % static_cast<uint64_t>(every) == 0 && id > 0;
    const int32_t last = !odd                ? 3
                         : unique_exceptions ? 100 + static_cast<int32_t>(id)
                                             : 10 + static_cast<int32_t>(id % 6);
    // Line template rarity: spread over the usual sessions, high on the exception line.
    const double rarity = odd ? 12.0 : static_cast<double>(id % 97) / 10.0;
    for (int32_t tid : {1, 2, last})
      scorer.Add(id, tid, tick++, true, false, rarity, 0, 0, 0, &out);
    broken.push_back(odd ? 1 : 0);
    tick += 1000;
  }
  scorer.Flush(&out);
  Alerts a;
  for (const SessionScore& s : out) {
    if (s.session < 300) continue;  // past warm-up and the first sessions of each template
    const bool b = broken[s.session] != 0;
    a.broken += b ? 1 : 0;
    (b ? a.broken_alerted : a.usual_alerted) += s.alert ? 1 : 0;
  }
  return a;
}

TEST(SessionThresholdTest, FollowsTheShareOfBrokenSessionsAboveTheBudget) {
  SessionOptions so;
  so.shape.quiet_ms = 10;
  so.warmup_sessions = 100;
  ASSERT_TRUE(so.Validate().ok());
  const Alerts backed = RunStream(so, 33, false);  // 3% of sessions broken, budget 1%
  ASSERT_GT(backed.broken, 40);
  EXPECT_GE(backed.broken_alerted, backed.broken * 9 / 10);
  EXPECT_LE(backed.usual_alerted, 2);
  // With the budget fixed (max_alert_rate at the budget): about a third of the broken sessions.
  const Alerts budget = RunStream(so, 33, false, 0.01);
  EXPECT_LT(budget.broken_alerted, backed.broken * 6 / 10);
}

TEST(SessionThresholdTest, KeepsTheBudgetWhenMostSessionsLookBroken) {
  SessionOptions so;
  so.shape.quiet_ms = 10;
  so.warmup_sessions = 100;
  // Every other session has a template no session had before: 50% "broken" is no structure.
  const Alerts a = RunStream(so, 2, true);
  const int sessions = 1700;
  EXPECT_LE(a.broken_alerted + a.usual_alerted, sessions * 3 / 100);
}

TEST(SessionThresholdTest, LabelledSessionsMoveTheThreshold) {
  SessionOptions so;
  so.shape.quiet_ms = 10;
  ThresholdOptions t;
  t.label_prior = 1;
  SessionScorer scorer(so, t, 6.0, 0.01);
  std::vector<SessionScore> out;
  for (uint64_t id = 0; id < 300; ++id) {
    scorer.Add(id, 1, static_cast<int64_t>(id) * 1000, true, false, 0, 0, 0, 0, &out);
  }
  EXPECT_EQ(scorer.stage(), ThresholdStage::kBudget);
  const double free = scorer.Threshold();
  for (int i = 0; i < 20; ++i) {
    scorer.AddLabel(0.5, 0);
    scorer.AddLabel(3.0, 1);
  }
  EXPECT_EQ(scorer.stage(), ThresholdStage::kLabelled);
  EXPECT_EQ(scorer.labels(), 40);
  // The F1-best cut is 1.75, weighted 40 / 41 against the label-free threshold.
  EXPECT_NEAR(scorer.Threshold(), free + 40.0 / 41.0 * (1.75 - free), 1e-9);
  scorer.ClearLabels();
  EXPECT_EQ(scorer.Threshold(), free);
}

// One anomalous label far above a normal one, both on the sides the label-free threshold puts them:
// the midpoint rule moves the threshold up into the gap (and silences anomalous sessions below the
// midpoint); agree and nearest leave it where it is.
TEST(SessionThresholdTest, LabelsThatAgreeWithTheFreeThresholdLeaveItUnderAgreeAndNearest) {
  const std::vector<double> scores = {11.0, 0.5};
  const std::vector<int> labels = {1, 0};
  const double free = 4.4;
  EXPECT_NEAR(LabelledThreshold(free, scores, labels, 1, LabelCut::kMidpoint), free + 2.0 / 3.0 * (5.75 - free),
              1e-12);
  EXPECT_EQ(LabelledThreshold(free, scores, labels, 1, LabelCut::kAgree), free);
  EXPECT_EQ(LabelledThreshold(free, scores, labels, 1, LabelCut::kNearest), free);
  // No anomalous label, or the warm-up: the label-free threshold whatever the rule.
  EXPECT_EQ(LabelledThreshold(free, {0.5, 6.0}, {0, 0}, 1, LabelCut::kAgree), free);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(LabelledThreshold(inf, scores, labels, 1, LabelCut::kNearest), inf);
}

// A normal label above the label-free threshold (and an anomalous one above that): the labels
// disagree with it. agree takes the gap's midpoint as before; nearest moves the threshold only just
// past the normal label.
TEST(SessionThresholdTest, LabelsThatDisagreeMoveTheThresholdToTheGap) {
  const std::vector<double> scores = {3.0, 2.0, 0.5};
  const std::vector<int> labels = {1, 0, 0};
  const double free = 1.0;
  const double w = 3.0 / 4.0;  // n / (n + label_prior)
  EXPECT_NEAR(LabelledThreshold(free, scores, labels, 1, LabelCut::kMidpoint), free + w * (2.5 - free), 1e-12);
  EXPECT_NEAR(LabelledThreshold(free, scores, labels, 1, LabelCut::kAgree), free + w * (2.5 - free), 1e-12);
  const double nearest = LabelledThreshold(free, scores, labels, 1, LabelCut::kNearest);
  EXPECT_NEAR(nearest, free + w * (2.0 - free), 1e-9);
  // With many labels the shrinkage vanishes: the normal label's score no longer alerts, the
  // anomalous one does.
  std::vector<double> many;
  std::vector<int> y;
  for (int i = 0; i < 1000; ++i) {
    many.insert(many.end(), scores.begin(), scores.end());
    y.insert(y.end(), labels.begin(), labels.end());
  }
  const double t = LabelledThreshold(free, many, y, 1, LabelCut::kNearest);
  EXPECT_GT(t, 1.99);
  EXPECT_LT(t, 2.01);
  // Above the gap (the anomalous label below the label-free threshold): down to that label's score.
  EXPECT_NEAR(LabelledThreshold(4.0, many, y, 1, LabelCut::kNearest), 4.0 + 3000.0 / 3001.0 * (3.0 - 4.0), 1e-9);
}

TEST(SessionThresholdTest, LabelCutNames) {
  for (LabelCut c : {LabelCut::kMidpoint, LabelCut::kAgree, LabelCut::kNearest}) {
    absl::StatusOr<LabelCut> parsed = ParseLabelCut(LabelCutName(c));
    ASSERT_TRUE(parsed.ok()) << LabelCutName(c);
    EXPECT_EQ(*parsed, c);
  }
  EXPECT_FALSE(ParseLabelCut("middle").ok());
  EXPECT_FALSE(ParseLabelCut("").ok());
}

// The scorer uses its options' rule: the labelled stage of a live session threshold.
TEST(SessionThresholdTest, ScorerUsesItsLabelCut) {
  for (LabelCut c : {LabelCut::kMidpoint, LabelCut::kAgree}) {
    SessionOptions so;
    so.shape.quiet_ms = 10;
    so.label_cut = c;
    ThresholdOptions t;
    t.label_prior = 1;
    SessionScorer scorer(so, t, 6.0, 0.01);
    std::vector<SessionScore> out;
    for (uint64_t id = 0; id < 300; ++id) {
      scorer.Add(id, 1, static_cast<int64_t>(id) * 1000, true, false, 0, 0, 0, 0, &out);
    }
    const double free = scorer.Threshold();
    ASSERT_FALSE(std::isinf(free));
    scorer.AddLabel(free + 10, 1);
    scorer.AddLabel(free - 10, 0);
    EXPECT_EQ(scorer.stage(), ThresholdStage::kLabelled);
    if (c == LabelCut::kAgree) {
      EXPECT_EQ(scorer.Threshold(), free);
    } else {
      EXPECT_NE(scorer.Threshold(), free);
    }
  }
}

}  // namespace
}  // namespace fedlog::novelty
