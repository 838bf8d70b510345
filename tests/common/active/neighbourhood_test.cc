// The few-shot rule's token neighbourhoods in the line selector: what a verdict on a representative
// would change beyond its own group (SelectorOptions::neighbour_match), and picks that do not
// repeat a neighbourhood (SelectorOptions::diversity_match).
#include "common/active/neighbourhood.h"

#include <vector>

#include "common/active/selector.h"
#include "gtest/gtest.h"

namespace fedlog::active {
namespace {

LineInfo Line(int32_t tpl, double score, std::vector<uint64_t> tokens, int alert, int label = -1) {
  LineInfo l;
  l.template_id = tpl;
  l.score = score;
  l.tokens = std::move(tokens);
  l.alert = alert;
  l.label = label;
  l.model_probability = alert == 1 ? 1.f : 0.f;
  return l;
}

TEST(NeighbourhoodTest, JaccardOfSortedTokenLists) {
  EXPECT_DOUBLE_EQ(internal::TokenJaccard({1, 2, 3, 4}, {1, 2, 3, 5}), 0.6);
  EXPECT_DOUBLE_EQ(internal::TokenJaccard({1, 2}, {1, 2}), 1.0);
  EXPECT_DOUBLE_EQ(internal::TokenJaccard({}, {1}), 0.0);
}

TEST(NeighbourhoodTest, ReachFollowsTheKeepRule) {
  SelectionInput in;
  // Threshold 0.5. Quiet lines near {1,2,3,4}: two at J 0.6; one at J 0.25 (too far to decide).
  in.lines = {Line(1, 0.2, {1, 2, 3, 5}, 0), Line(1, 0.3, {1, 2, 3, 5}, 0),
              Line(2, 0.2, {1, 2, 6, 7, 8, 9}, 0),
              // Alerting lines: one at J 0.6 (decided), one at J 2/7 below the threshold (kept
              // zone), one at J 2/7 above it (its alert stands).
              Line(3, 0.9, {1, 2, 3, 6}, 1), Line(4, 0.4, {3, 4, 11, 12, 13}, 1),
              Line(5, 0.8, {1, 2, 14, 15, 16}, 1)};
  internal::Neighbourhoods near(in, /*threshold=*/0.5, /*match=*/0.3, /*keep_match=*/0.2);
  internal::VerdictReach r = near.Reach({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(r.if_anomalous, 2);  // the two quiet lines at 0.6
  EXPECT_DOUBLE_EQ(r.if_normal, 2);     // the decided alert and the one below the threshold
  // Without the keep rule only the decided alert is silenced.
  EXPECT_DOUBLE_EQ(internal::Neighbourhoods(in, 0.5, 0.3, 0).Reach({1, 2, 3, 4}).if_normal, 1);
  // A normal label nearer to the quiet lines than the verdict would be: an anomalous verdict no
  // longer decides them. An anomalous label as near as the verdict: a normal one no longer
  // silences.
  in.lines.push_back(Line(6, 0.1, {1, 2, 3, 5}, 0, /*label=*/0));
  in.lines.push_back(Line(7, 0.9, {1, 2, 3, 6}, 1, /*label=*/1));
  r = internal::Neighbourhoods(in, 0.5, 0.3, 0.2).Reach({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(r.if_anomalous, 0);
  EXPECT_DOUBLE_EQ(r.if_normal, 1);  // only the kept-zone alert below the threshold
  EXPECT_DOUBLE_EQ(r.if_anomalous + r.if_normal, 1);
  EXPECT_DOUBLE_EQ(internal::Neighbourhoods(in, 0.5, 0.3, 0.2).Reach({}).if_normal, 0);
}

// Two alerting representatives of equal standing; one has ten quiet lines in its neighbourhood (a
// verdict "anomalous" would make them alert), the other none. Session 13's count sees neither (each
// group's own lines all alert) and ranks the slightly nearer miss first.
SelectionInput TwoAlarms() {
  SelectionInput in;
  in.threshold = 0.5;
  in.lines = {Line(1, 0.6, {1, 2, 3, 4}, 1), Line(2, 0.55, {20, 21, 22, 23}, 1)};
  for (int i = 0; i < 10; ++i) in.lines.push_back(Line(3, -20, {1, 2, 3, 5}, 0));
  return in;
}

TEST(NeighbourhoodTest, NeighbourMatchCountsTheLinesAVerdictWouldChange) {
  SelectorOptions opt;
  opt.margin_scale = 1.0;
  EXPECT_DOUBLE_EQ(opt.neighbour_match, 0);  // off by default (session 16)
  auto today = SelectLines(TwoAlarms(), opt, 1);
  ASSERT_TRUE(today.ok()) << today.status();
  EXPECT_EQ((*today)[0].template_id, 2);
  EXPECT_DOUBLE_EQ((*today)[0].corrections, 0);
  opt.neighbour_match = 0.3;
  auto near = SelectLines(TwoAlarms(), opt, 1);
  ASSERT_TRUE(near.ok()) << near.status();
  EXPECT_EQ((*near)[0].template_id, 1);
  EXPECT_DOUBLE_EQ((*near)[0].corrections, 10);
  // Lines without tokens fall back to the group's own count.
  SelectionInput bare = TwoAlarms();
  for (LineInfo& l : bare.lines) l.tokens.clear();
  EXPECT_EQ((*SelectLines(bare, opt, 1))[0].template_id, 2);
}

TEST(NeighbourhoodTest, DiversityPutsASecondPickFromOneNeighbourhoodLast) {
  SelectionInput in;
  in.threshold = 0.5;
  in.lines = {Line(1, 0.51, {1, 2, 3, 4}, 1), Line(2, 0.52, {1, 2, 3, 5}, 1),
              Line(3, 0.6, {7, 8, 9}, 1)};
  SelectorOptions opt;
  opt.margin_scale = 1.0;
  auto order = [&] {
    std::vector<int32_t> out;
    absl::StatusOr<std::vector<Pick>> picks = SelectLines(in, opt);
    EXPECT_TRUE(picks.ok()) << picks.status();
    for (const Pick& p : *picks) out.push_back(p.template_id);
    return out;
  };
  EXPECT_EQ(order(), (std::vector<int32_t>{1, 2, 3}));
  opt.diversity_match = 0.5;
  EXPECT_EQ(order(), (std::vector<int32_t>{1, 3, 2}));
  auto two = SelectLines(in, opt, 2);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].template_id, 3);
}

TEST(NeighbourhoodTest, RejectsOutOfRangeOptions) {
  for (double v : {-0.1, 1.5}) {
    SelectorOptions a, b, c;
    a.neighbour_match = v;
    b.neighbour_keep_match = v;
    c.diversity_match = v;
    EXPECT_FALSE(a.Validate().ok());
    EXPECT_FALSE(b.Validate().ok());
    EXPECT_FALSE(c.Validate().ok());
  }
}

}  // namespace
}  // namespace fedlog::active
