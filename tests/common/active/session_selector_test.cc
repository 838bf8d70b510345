// Active session selection (active::SelectSessions): one representative per uncovered group,
// alarming and uncertain groups first, larger groups before smaller ones, deterministic.
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "common/active/session_selector.h"
#include "gtest/gtest.h"

namespace fedlog::active {
namespace {

SessionInfo S(uint64_t group, double score, bool alert, int label = -1) {
  SessionInfo s;
  s.group = group;
  s.score = score;
  s.threshold = 5;
  s.alert = alert;
  s.label = label;
  return s;
}

TEST(SessionSelectorTest, OnePerGroupAlarmingFirstCoveredLeftOut) {
  std::vector<SessionInfo> in;
  for (int i = 0; i < 50; ++i) in.push_back(S(1, 0.5 + 0.01 * i, false));  // usual, far below
  for (int i = 0; i < 5; ++i) in.push_back(S(2, 7 + i, true));           // a kind that alarms
  in.push_back(S(3, 4.5, false));                                         // one near the threshold
  for (int i = 0; i < 3; ++i) in.push_back(S(4, 8, true));
  in.back().label = 0;                                                    // group 4 is covered
  auto picks = SelectSessions(in, {});
  ASSERT_TRUE(picks.ok()) << picks.status();
  ASSERT_EQ(picks->size(), 3u);
  std::set<uint64_t> groups;
  for (const SessionPick& p : *picks) EXPECT_TRUE(groups.insert(p.group).second);
  EXPECT_EQ(groups.count(4), 0u);
  EXPECT_EQ((*picks)[0].group, 2u);  // alarming, and larger than group 3
  EXPECT_EQ((*picks)[0].group_size, 5);
  EXPECT_EQ((*picks)[0].group_alerts, 5);
  EXPECT_EQ(in[(*picks)[0].session].score, 7);  // its most uncertain session: nearest the threshold
  EXPECT_EQ((*picks)[1].group, 3u);             // near the threshold
  EXPECT_EQ((*picks)[2].group, 1u);
  auto one = SelectSessions(in, {}, 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].group, 2u);
}

TEST(SessionSelectorTest, DeterministicWarmUpAndBadInput) {
  std::vector<SessionInfo> in = {S(1, 1, false), S(2, 1, false), S(3, 1, false)};
  in[0].threshold = std::numeric_limits<double>::infinity();  // closed during warm-up
  auto a = SelectSessions(in, {});
  auto b = SelectSessions(in, {});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 3u);
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].group, (*b)[i].group);
  for (const SessionPick& p : *a) EXPECT_TRUE(std::isfinite(p.priority));
  in[1].label = 2;
  EXPECT_FALSE(SelectSessions(in, {}).ok());
  SessionSelectorOptions bad;
  bad.alert_weight = -1;
  in[1].label = -1;
  EXPECT_FALSE(SelectSessions(in, bad).ok());
}

}  // namespace
}  // namespace fedlog::active
