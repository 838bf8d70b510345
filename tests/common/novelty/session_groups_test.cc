// Session group verdicts (novelty::SessionGroups) and their use in SessionScorer: a session labelled
// normal silences the later sessions of its shape, one labelled anomalous makes them alert, and a
// group labelled both ways keeps the detector's decision.
#include <utility>
#include <vector>

#include "common/novelty/session_groups.h"
#include "common/novelty/session_scorer.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

TEST(SessionGroupsTest, VerdictsDecideTheirGroupOnly) {
  SessionGroups g;
  EXPECT_EQ(g.Decide(7, true, false, false), GroupDecision::kNone);
  g.Add(7, 0);
  g.Add(8, 1);
  EXPECT_EQ(g.Label(7), 0);
  EXPECT_EQ(g.Label(8), 1);
  EXPECT_EQ(g.Label(9), -1);
  EXPECT_EQ(g.Decide(7, true, false, false), GroupDecision::kSuppressed);
  EXPECT_EQ(g.Decide(7, false, false, false), GroupDecision::kNone);  // nothing to silence
  EXPECT_EQ(g.Decide(7, true, true, true), GroupDecision::kNone);     // keep_broken
  EXPECT_EQ(g.Decide(8, false, false, false), GroupDecision::kRaised);
  EXPECT_EQ(g.Decide(9, true, false, false), GroupDecision::kNone);
  g.Add(7, 1);  // both ways: no verdict
  EXPECT_EQ(g.Label(7), -1);
  EXPECT_EQ(g.Decide(7, true, false, false), GroupDecision::kNone);
  g.Clear();
  EXPECT_EQ(g.groups(), 0u);
}

// A normal verdict covers what the operator saw: given on a session that broke no near-certain
// relation, it leaves the group's broken sessions to the detector (on HDFS a lone WARN line called
// normal before its template had relations, and the same line in failed blocks later); given on a
// broken one, it silences them too, unless keep_broken.
TEST(SessionGroupsTest, ANormalVerdictSilencesBrokenSessionsOnlyWhenItSawOne) {
  SessionGroups g;
  g.Add(7, 0);  // the labelled session was not broken
  EXPECT_EQ(g.Label(7), 0);
  EXPECT_EQ(g.Decide(7, true, false, false), GroupDecision::kSuppressed);
  EXPECT_EQ(g.Decide(7, true, true, false), GroupDecision::kNone);
  g.Add(8, 0, /*broken=*/true);
  EXPECT_EQ(g.Decide(8, true, true, false), GroupDecision::kSuppressed);
  EXPECT_EQ(g.Decide(8, true, false, false), GroupDecision::kSuppressed);
  EXPECT_EQ(g.Decide(8, true, true, /*keep_broken=*/true), GroupDecision::kNone);
  g.Add(7, 0, /*broken=*/true);  // a later verdict on a broken session of group 7
  EXPECT_EQ(g.Decide(7, true, true, false), GroupDecision::kSuppressed);
  g.Add(8, 1, /*broken=*/true);  // both ways: the detector decides
  EXPECT_EQ(g.Label(8), -1);
  EXPECT_EQ(g.Decide(8, true, true, false), GroupDecision::kNone);
  EXPECT_EQ(g.Decide(8, false, false, false), GroupDecision::kNone);
}

// Sessions of templates {1, 2} (three each) or {1, 2, 3} (a rare third template), closed by time.
class ScorerGroupsTest : public ::testing::Test {
 protected:
  ScorerGroupsTest() : scorer_(Options(), Threshold(), 6.0, 0.01) {}
  static SessionOptions Options() {
    SessionOptions o;
    o.shape.quiet_ms = 10;
    o.warmup_sessions = 20;
    return o;
  }
  static ThresholdOptions Threshold() {
    ThresholdOptions t;
    t.budget = 0.05;  // the rare shape (2% of sessions) is within the budget
    return t;
  }
  // One session; returns the scores of the sessions it closed.
  std::vector<SessionScore> Session(bool odd) {
    std::vector<SessionScore> out;
    const uint64_t id = static_cast<uint64_t>(++n_);
    for (int k = 0; k < 3; ++k) Add(id, 1, &out);
    for (int k = 0; k < 3; ++k) Add(id, 2, &out);
    if (odd) Add(id, 3, &out);
    tick_ += 100;
    return out;
  }
  void Add(uint64_t id, int32_t t, std::vector<SessionScore>* out) {
    scorer_.Add(id, t, tick_, true, false, 0, 0, 0, 0, out);
  }
  SessionScorer scorer_;
  int n_ = 0;
  int64_t tick_ = 0;
};

TEST_F(ScorerGroupsTest, ALabelledSessionSettlesItsShape) {
  std::vector<SessionScore> closed;
  for (int i = 0; i < 200; ++i) {
    for (const SessionScore& s : Session(i % 50 == 25)) closed.push_back(s);
  }
  const SessionScore* odd = nullptr;
  const SessionScore* usual = nullptr;
  for (const SessionScore& s : closed) {
    if (s.raw[kRareTemplate] > 1 && s.alert) odd = &s;
    if (s.raw[kRareTemplate] < 0.5) usual = &s;
  }
  ASSERT_NE(odd, nullptr) << "the rare shape should alert before any label";
  ASSERT_NE(usual, nullptr);
  EXPECT_NE(odd->group, usual->group);
  const uint64_t odd_group = odd->group, usual_group = usual->group;
  scorer_.AddLabel(odd->score, 0, odd_group);
  std::vector<SessionScore> later;
  for (int i = 0; i < 60; ++i) {
    for (const SessionScore& s : Session(i % 20 == 10)) later.push_back(s);
  }
  int odd_seen = 0;
  for (const SessionScore& s : later) {
    if (s.group != odd_group) continue;
    ++odd_seen;
    EXPECT_FALSE(s.alert);
  }
  EXPECT_GE(odd_seen, 2);
  // Anomalous instead, on the usual shape: every later usual session alerts.
  scorer_.ClearLabels();
  scorer_.AddLabel(0, 1, usual_group);
  int raised = 0;
  for (int i = 0; i < 10; ++i) {
    for (const SessionScore& s : Session(false)) {
      EXPECT_TRUE(s.alert);
      raised += s.group_decision == GroupDecision::kRaised ? 1 : 0;
    }
  }
  EXPECT_GE(raised, 9);
}

// The scorer keeps what its verdict saw: a lone template-3 session labelled normal before template
// 3 had relations (not broken) does not silence the lone template-3 sessions that come after
// every session has learnt to log 3 with 1 and 2 (broken); session 10's rule (the verdict taken as
// covering broken sessions) silences them.
TEST_F(ScorerGroupsTest, AVerdictOnAnUnbrokenSessionLeavesBrokenOnesAlerting) {
  for (const bool covers_broken : {false, true}) {
    SessionOptions o = Options();
    o.shape.incomplete_quiet_ms = 0;  // every session judged after quiet_ms
    SessionScorer scorer(o, Threshold(), 6.0, 0.01);
    int64_t tick = 0;
    uint64_t id = 0;
    auto session = [&](std::vector<std::pair<int32_t, int>> counts, std::vector<SessionScore>* out) {
      ++id;
      for (const auto& [t, c] : counts) {
        for (int k = 0; k < c; ++k) scorer.Add(id, t, tick, true, false, 0, 0, 0, 0, out);
      }
      tick += 100;
    };
    std::vector<SessionScore> early;
    for (int i = 0; i < 30; ++i) session(i == 5 ? std::vector<std::pair<int32_t, int>>{{3, 1}}
                                                : std::vector<std::pair<int32_t, int>>{{1, 3}, {2, 3}},
                                         &early);
    const SessionScore* lone = nullptr;
    for (const SessionScore& s : early) {
      if (s.lines == 1) lone = &s;
    }
    ASSERT_NE(lone, nullptr);
    ASSERT_FALSE(lone->broken);
    scorer.AddLabel(lone->score, 0, lone->group, covers_broken);
    std::vector<SessionScore> later;
    for (int i = 0; i < 200; ++i) session({{1, 3}, {2, 3}, {3, 1}}, &later);
    for (int i = 0; i < 50; ++i) {
      session(i % 10 == 5 ? std::vector<std::pair<int32_t, int>>{{3, 1}}
                          : std::vector<std::pair<int32_t, int>>{{1, 3}, {2, 3}, {3, 1}},
              &later);
    }
    int broken_lone = 0, alerted = 0;
    for (const SessionScore& s : later) {
      if (s.group != lone->group) continue;
      broken_lone += s.broken ? 1 : 0;
      alerted += s.alert ? 1 : 0;
    }
    EXPECT_GE(broken_lone, 4);
    if (covers_broken) {
      EXPECT_EQ(alerted, 0);
    } else {
      EXPECT_EQ(alerted, broken_lone);
    }
  }
}

}  // namespace
}  // namespace fedlog::novelty
