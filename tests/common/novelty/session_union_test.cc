// Union scoring of a session key closed in pieces (ShapeOptions::union_score): at a key's later
// piece the union of its pieces is judged too, against what the pieces taught; the piece itself is
// judged as without it; the key's state is bounded by max_union_keys.
#include <cstdint>
#include <utility>
#include <vector>

#include "common/novelty/session_shape.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

void AddPiece(SessionShapes* s, uint64_t id, const std::vector<std::pair<int32_t, int>>& counts, int64_t tick,
              std::vector<ClosedSession>* closed) {
  for (const auto& [t, n] : counts) {
    for (int k = 0; k < n; ++k) s->Add(id, t, tick++, true, false, {static_cast<double>(t)}, closed);
  }
}

// 60 usual sessions {1:3, 2:3, 3:3}, one every 1000 ms; returns the next free tick.
int64_t Usual(SessionShapes* s, std::vector<ClosedSession>* closed) {
  int64_t tick = 0;
  for (uint64_t id = 0; id < 60; ++id) {
    AddPiece(s, id, {{1, 3}, {2, 3}, {3, 3}}, tick, closed);
    tick += 1000;
  }
  return tick;
}

std::vector<ClosedSession> PiecesOf(const std::vector<ClosedSession>& closed, uint64_t id) {
  std::vector<ClosedSession> out;
  for (const ClosedSession& c : closed) {
    if (c.session == id) out.push_back(c);
  }
  return out;
}

ShapeOptions NoWait(bool union_score) {
  ShapeOptions o;
  o.quiet_ms = 100;
  o.incomplete_quiet_ms = 0;  // a write that paused closes in pieces
  o.union_score = union_score;
  return o;
}

TEST(SessionUnionTest, APausedWriteIsJudgedWholeAtItsLaterPiece) {
  for (const bool on : {false, true}) {
    SCOPED_TRACE(on);
    SessionShapes s(NoWait(on));
    std::vector<ClosedSession> closed;
    const int64_t tick = Usual(&s, &closed);
    AddPiece(&s, 700, {{1, 3}}, tick, &closed);                         // the write pauses
    AddPiece(&s, 800, {{1, 3}, {2, 3}, {3, 3}}, tick + 1000, &closed);
    AddPiece(&s, 700, {{2, 3}, {3, 3}}, tick + 2000, &closed);           // its acknowledgements
    s.Flush(&closed);
    const std::vector<ClosedSession> p = PiecesOf(closed, 700);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].violated, 2);  // the first piece is judged as it stands either way
    EXPECT_FALSE(p[0].whole);
    EXPECT_EQ(p[0].piece, 1);
    EXPECT_GT(p[1].violated, 0);  // the piece: 2 and 3 without 1, either way
    EXPECT_EQ(p[1].lines.lines, 6);
    EXPECT_EQ(p[1].whole, on);
    if (on) {
      EXPECT_EQ(p[1].piece, 2);
      EXPECT_EQ(p[1].union_violated, 0);  // the union is the usual session
      EXPECT_EQ(p[1].union_invariant, 0);
      EXPECT_EQ(p[1].union_lines.lines, 9);
      EXPECT_EQ(p[1].union_lines.line_max, std::vector<double>{3.0});
    }
  }
}

TEST(SessionUnionTest, TheUnionIsJudgedNotLearnt) {
  // Usual keys are one piece of either kind, {1:3, 2:3} or {5:2, 6:2}. A key with one piece of each
  // looks usual piece by piece; its union's signature was never seen.
  for (const bool on : {false, true}) {
    SCOPED_TRACE(on);
    SessionShapes s(NoWait(on));
    std::vector<ClosedSession> closed;
    int64_t tick = 0;
    for (uint64_t id = 0; id < 60; ++id) {
      if (id % 2 == 0) {
        AddPiece(&s, id, {{1, 3}, {2, 3}}, tick, &closed);
      } else {
        AddPiece(&s, id, {{5, 2}, {6, 2}}, tick, &closed);
      }
      tick += 1000;
    }
    AddPiece(&s, 700, {{1, 3}, {2, 3}}, tick, &closed);
    AddPiece(&s, 700, {{5, 2}, {6, 2}}, tick + 1000, &closed);
    s.Flush(&closed);
    const std::vector<ClosedSession> p = PiecesOf(closed, 700);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_LT(p[0].signature, 2.0);  // a usual signature (about half of the keys have it)
    EXPECT_LT(p[1].signature, 2.0);  // the piece alone is usual
    EXPECT_EQ(p[1].whole, on);
    if (on) {
      EXPECT_GT(p[1].union_signature, 4.0);  // the union's signature was never seen
      EXPECT_EQ(p[1].union_lines.lines, 10);
    }
  }
}

TEST(SessionUnionTest, KeysAreBoundedAndValidated) {
  ShapeOptions o = NoWait(true);
  o.max_union_keys = 1;
  ASSERT_TRUE(o.Validate().ok());
  SessionShapes s(o);
  std::vector<ClosedSession> closed;
  const int64_t tick = Usual(&s, &closed);  // keys 0..59 closed: only 59 is kept
  AddPiece(&s, 59, {{1, 3}, {2, 3}, {3, 3}}, tick, &closed);
  AddPiece(&s, 3, {{1, 3}, {2, 3}, {3, 3}}, tick + 1000, &closed);
  s.Flush(&closed);
  const std::vector<ClosedSession> k59 = PiecesOf(closed, 59);
  const std::vector<ClosedSession> k3 = PiecesOf(closed, 3);
  ASSERT_EQ(k59.size(), 2u);
  ASSERT_EQ(k3.size(), 2u);
  EXPECT_TRUE(k59[1].whole);
  EXPECT_EQ(k59[1].piece, 2);
  EXPECT_EQ(k59[1].union_lines.lines, 18);
  EXPECT_EQ(k59[1].lines.lines, 9);
  EXPECT_FALSE(k3[1].whole);  // forgotten: judged alone
  o.max_union_keys = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
