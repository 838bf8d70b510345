// The session-level signals on small synthetic streams: the n-gram next-event model with backoff,
// session count invariants and signature rarity (judged when a session goes quiet), and the session
// score through NoveltyScorer.
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/novelty/ngram.h"
#include "common/novelty/scorer.h"
#include "common/novelty/session_scorer.h"
#include "common/novelty/session_shape.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

TEST(NgramModelTest, LongerHistorySeesWhatFirstOrderCannot) {
  // A B C and X B D, many times: after B, C and D are equally likely; after A B only C is.
  NgramOptions two;
  two.history = 2;
  two.top_g = 1;
  two.min_support = 5;
  NgramOptions one = two;
  one.history = 1;
  NgramModel m2(two), m1(one);
  uint64_t session = 0;
  for (int i = 0; i < 40; ++i) {
    const bool first = i % 2 == 0;
    for (int32_t t : {first ? 1 : 7, 2, first ? 3 : 4}) {
      m2.Observe(session, t);
      m1.Observe(session, t);
    }
    m2.EndSession(session);
    m1.EndSession(session);
    ++session;
  }
  for (NgramModel* m : {&m2, &m1}) {
    m->Observe(1000, 1);
    m->Observe(1000, 2);
  }
  const NextEvent wrong2 = m2.Score(1000, 4);  // A B D never happened
  EXPECT_TRUE(wrong2.judged);
  EXPECT_EQ(wrong2.context, 2);
  EXPECT_TRUE(wrong2.miss);
  EXPECT_GT(wrong2.surprise, 3.0);
  EXPECT_FALSE(m2.Score(1000, 3).miss);
  // First order: after B, C and D tie for the top, so D is no miss.
  EXPECT_FALSE(m1.Score(1000, 4).miss);
}

TEST(NgramModelTest, BacksOffToAContextWithSupport) {
  NgramOptions o;
  o.history = 3;
  o.top_g = 1;
  o.min_support = 10;
  NgramModel m(o);
  for (int i = 0; i < 30; ++i) {
    m.Observe(static_cast<uint64_t>(i), 5);
    m.Observe(static_cast<uint64_t>(i), 6);
  }
  // A history never seen (9 5): the 2-context has no support, the 1-context (5) has 30.
  m.Advance(99, 9);
  m.Advance(99, 5);
  const NextEvent e = m.Score(99, 6);
  EXPECT_TRUE(e.judged);
  EXPECT_EQ(e.context, 1);
  EXPECT_FALSE(e.miss);
  EXPECT_TRUE(m.Score(99, 8).miss);
  // Nothing judged before any context has support.
  NgramModel empty(o);
  EXPECT_FALSE(empty.Score(1, 1).judged);
}

// A session of three templates, each `n` times, added at ticks spaced 1 ms apart from `tick`.
void AddSession(SessionShapes* s, uint64_t id, const std::vector<std::pair<int32_t, int>>& counts,
                int64_t tick, std::vector<ClosedSession>* closed) {
  for (const auto& [t, n] : counts) {
    for (int k = 0; k < n; ++k) s->Add(id, t, tick++, true, false, {}, closed);
  }
}

TEST(SessionShapesTest, MissingAndUnequalCountsViolateInvariants) {
  ShapeOptions o;
  o.quiet_ms = 100;
  SessionShapes s(o);
  std::vector<ClosedSession> closed;
  int64_t tick = 0;
  for (uint64_t id = 0; id < 60; ++id) {
    AddSession(&s, id, {{1, 3}, {2, 3}, {3, 3}}, tick, &closed);
    tick += 1000;  // the previous session goes quiet
  }
  AddSession(&s, 500, {{1, 3}, {2, 3}, {3, 3}}, tick, &closed);
  AddSession(&s, 501, {{1, 3}}, tick + 1000, &closed);                    // no 2, no 3
  AddSession(&s, 502, {{1, 3}, {2, 3}, {3, 4}}, tick + 2000, &closed);    // one count off
  s.Flush(&closed);
  ASSERT_EQ(closed.size(), 63u);
  const ClosedSession& normal = closed[60];
  const ClosedSession& missing = closed[61];
  const ClosedSession& unequal = closed[62];
  ASSERT_EQ(missing.session, 501u);
  EXPECT_EQ(normal.invariant, 0);
  EXPECT_EQ(normal.violated, 0);
  EXPECT_EQ(missing.violated, 2);  // 1 => 2 and 1 => 3
  EXPECT_GT(missing.invariant, 2 * std::log(40.0));
  EXPECT_EQ(unequal.violated, 2);  // count(3) != count(1), != count(2)
  EXPECT_GT(unequal.invariant, 0);
  // The usual signature is common, the new ones rare.
  EXPECT_LT(normal.signature, 0.1);
  EXPECT_GT(missing.signature, 3.0);
}

TEST(SessionShapesTest, ClosesWhenQuietAndKeepsItsLines) {
  ShapeOptions o;
  o.quiet_ms = 1000;
  SessionShapes s(o);
  std::vector<ClosedSession> closed;
  s.Add(1, 7, 0, true, false, {0.5, 2.0}, &closed);
  s.Add(1, 7, 500, true, true, {1.5, 1.0}, &closed);
  s.Add(2, 7, 1200, true, false, {}, &closed);
  EXPECT_TRUE(closed.empty());  // session 1 was last seen at 500
  s.Add(2, 7, 1600, true, false, {}, &closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].session, 1u);
  EXPECT_EQ(closed[0].lines.lines, 2);
  EXPECT_TRUE(closed[0].lines.alarm);
  EXPECT_EQ(closed[0].lines.line_max, (std::vector<double>{1.5, 2.0}));
  EXPECT_EQ(s.open_sessions(), 1u);
  s.Flush(&closed);
  EXPECT_EQ(closed.size(), 2u);
  EXPECT_EQ(s.open_sessions(), 0u);
  EXPECT_EQ(s.closed_sessions(), 2);
}

TEST(SessionShapesTest, OpenSessionsAreBounded) {
  ShapeOptions o;
  o.max_open_sessions = 10;
  SessionShapes s(o);
  std::vector<ClosedSession> closed;
  for (uint64_t id = 0; id < 100; ++id) s.Add(id, 1, static_cast<int64_t>(id), true, false, {}, &closed);
  EXPECT_LE(s.open_sessions(), 10u);
  EXPECT_EQ(closed.size(), 90u);
}

// 60 sessions {1:3, 2:3, 3:3}, one every 1000 ms from tick 0 (each quiet before the next);
// returns the next free tick.
int64_t LearnUsual(SessionShapes* s, std::vector<ClosedSession>* closed) {
  int64_t tick = 0;
  for (uint64_t id = 0; id < 60; ++id) {
    AddSession(s, id, {{1, 3}, {2, 3}, {3, 3}}, tick, closed);
    tick += 1000;
  }
  return tick;
}

TEST(SessionShapesTest, AnIncompleteSessionWaitsAndIsJudgedWhole) {
  // A write that pauses (its acknowledgements 2 and 3 come 2 s after its 1s) is one session when
  // incomplete sessions wait 5 s; without the wait it is judged in two broken pieces.
  for (const int64_t wait : {int64_t{5000}, int64_t{0}}) {
    ShapeOptions o;
    o.quiet_ms = 100;
    o.incomplete_quiet_ms = wait;
    ASSERT_TRUE(o.Validate().ok());
    SessionShapes s(o);
    std::vector<ClosedSession> closed;
    int64_t tick = LearnUsual(&s, &closed);
    AddSession(&s, 700, {{1, 3}}, tick, &closed);
    AddSession(&s, 800, {{1, 3}, {2, 3}, {3, 3}}, tick + 1000, &closed);  // others go on meanwhile
    AddSession(&s, 700, {{2, 3}, {3, 3}}, tick + 2000, &closed);
    s.Flush(&closed);
    std::vector<const ClosedSession*> pieces;
    for (const ClosedSession& c : closed) {
      if (c.session == 700) pieces.push_back(&c);
    }
    SCOPED_TRACE(wait);
    if (wait > 0) {
      ASSERT_EQ(pieces.size(), 1u);
      EXPECT_EQ(pieces[0]->lines.lines, 9);
      EXPECT_EQ(pieces[0]->violated, 0);
    } else {
      ASSERT_EQ(pieces.size(), 2u);
      EXPECT_EQ(pieces[0]->lines.lines, 3);
      EXPECT_EQ(pieces[0]->violated, 2);  // 1 without 2, 1 without 3
      EXPECT_GT(pieces[1]->violated, 0);  // 2 and 3 without 1
    }
  }
}

TEST(SessionShapesTest, AnIncompleteSessionThatNeverCompletesClosesAfterItsWait) {
  ShapeOptions o;
  o.quiet_ms = 100;
  o.incomplete_quiet_ms = 5000;
  SessionShapes s(o);
  std::vector<ClosedSession> closed;
  int64_t tick = LearnUsual(&s, &closed);
  AddSession(&s, 700, {{1, 3}}, tick, &closed);           // incomplete: waits
  closed.clear();                                         // (the last usual one closed)
  AddSession(&s, 701, {{1, 3}, {2, 3}, {3, 3}}, tick + 10, &closed);
  s.Add(702, 1, tick + 3000, true, false, {}, &closed);   // 701 complete: closed at its quiet time
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].session, 701u);
  s.Add(703, 1, tick + 5003, true, false, {}, &closed);   // 700 last seen at tick + 2: 5001 quiet
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[1].session, 700u);
  EXPECT_EQ(closed[1].violated, 2);
  // A count short of its usual partner (an acknowledgement still to come) also waits.
  closed.clear();
  AddSession(&s, 710, {{1, 3}, {2, 3}, {3, 2}}, tick + 10000, &closed);
  s.Add(711, 1, tick + 12000, true, false, {}, &closed);
  s.Add(710, 3, tick + 13000, true, false, {}, &closed);  // 3 s later, within the wait
  s.Flush(&closed);
  int pieces = 0;
  for (const ClosedSession& c : closed) {
    if (c.session != 710) continue;
    ++pieces;
    EXPECT_EQ(c.lines.lines, 9);
  }
  EXPECT_EQ(pieces, 1);
  // Untimed sessions never wait.
  SessionShapes u(o);
  std::vector<ClosedSession> c2;
  for (uint64_t id = 0; id < 60; ++id) {
    for (int32_t t : {1, 1, 1, 2, 2, 2, 3, 3, 3}) u.Add(id, t, static_cast<int64_t>(id) * 100000 + t, false, false, {}, &c2);
  }
  const size_t before = c2.size();
  u.Add(900, 1, 7000000, false, false, {}, &c2);
  u.Add(901, 1, 7000000 + o.quiet_lines + 1, false, false, {}, &c2);
  ASSERT_EQ(c2.size(), before + 2);  // session 59, then the incomplete 900 at the usual quiet
  EXPECT_EQ(c2.back().session, 900u);
  o.incomplete_share = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.incomplete_share = 0.01;
  o.incomplete_quiet_ms = -1;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(NoveltyScorerSessionTest, ABrokenSessionScoresAndAlertsAboveTheUsualOnes) {
  NoveltyOptions o;
  o.session.shape.quiet_ms = 100;
  o.session.warmup_sessions = 20;
  ASSERT_TRUE(o.Validate().ok());
  NoveltyScorer scorer(o);
  LineEvent e;
  e.has_session = true;
  int64_t t = 0, line = 0;
  auto session = [&](uint64_t id, const std::vector<int32_t>& templates) {
    e.session = id;
    for (int32_t tid : templates) {
      e.template_id = tid;
      e.time_ms = t++;
      scorer.ScoreAndLearn(e, line++);
    }
    t += 1000;
  };
  for (uint64_t id = 0; id < 300; ++id) session(id, {1, 2, 2, 3, 3, 4});
  session(1000, {1, 2, 2});  // stops half-way
  session(1001, {1, 2, 2, 3, 3, 4});
  scorer.FlushSessions();
  std::vector<SessionScore> scores;
  scorer.TakeSessionScores(&scores);
  ASSERT_EQ(scores.size(), 302u);
  const SessionScore& broken = scores[300];
  const SessionScore& usual = scores[301];
  ASSERT_EQ(broken.session, 1000u);
  EXPECT_GT(broken.score, usual.score + 2.0);
  EXPECT_TRUE(broken.alert);
  EXPECT_FALSE(usual.alert);
  EXPECT_NE(broken.fired & (1u << kInvariant), 0u);
  EXPECT_EQ(SessionFiredNames(broken.fired).find("invariant"), 0u);
  scores.clear();
  scorer.TakeSessionScores(&scores);
  EXPECT_TRUE(scores.empty());  // taken once
}

TEST(NoveltyScorerSessionTest, SessionsCanBeSwitchedOff) {
  NoveltyOptions o;
  o.session.enabled = false;
  NoveltyScorer scorer(o);
  LineEvent e;
  e.has_session = true;
  e.template_id = 1;
  for (int i = 0; i < 10; ++i) scorer.ScoreAndLearn(e, i);
  scorer.FlushSessions();
  std::vector<SessionScore> scores;
  scorer.TakeSessionScores(&scores);
  EXPECT_TRUE(scores.empty());
  o.session.shape.quiet_ms = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
