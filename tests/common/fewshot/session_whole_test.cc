// fewshot::SessionWholeUnits: a key's first piece is decided as the kind rule decides it; a later
// piece re-decides the key by its whole kind: a withdrawal when the union's kind was labelled normal,
// a late alert when a piece's kind silence no longer covers the grown key, nothing otherwise; with
// union scoring, a withdrawal too when the key's union of pieces no longer alerts, which holds.
#include "common/fewshot/session_whole.h"

#include "common/fewshot/session_kinds.h"
#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

// Kinds of a key fed `templates` one line each.
uint64_t KindOfLines(std::initializer_list<int32_t> templates) {
  SessionKinds k;
  for (int32_t t : templates) k.AddLine(1, t);
  return k.KindOf(1);
}

TEST(SessionWholeUnitsTest, AWholeUnitLabelledNormalWithdrawsTheFirstPiecesAlert) {
  SessionKinds verdicts;
  const uint64_t first = KindOfLines({1, 2, 2});         // a paused write: alerted alone
  const uint64_t whole = KindOfLines({1, 2, 2, 2, 3});   // the whole block, labelled normal
  verdicts.Label(whole, 0);
  SessionWholeUnits w;
  WholeUnitStep a = w.Close(7, /*detector_alert=*/true, first, verdicts, KindRule::kExact);
  EXPECT_EQ(a.piece, 1);
  EXPECT_TRUE(a.alert);
  EXPECT_TRUE(a.piece_alert);
  EXPECT_EQ(a.change, WholeUnitChange::kNone);
  WholeUnitStep b = w.Close(7, /*detector_alert=*/false, whole, verdicts, KindRule::kExact);
  EXPECT_EQ(b.piece, 2);
  EXPECT_FALSE(b.alert);
  EXPECT_FALSE(b.piece_alert);
  EXPECT_EQ(b.change, WholeUnitChange::kWithdrawn);
  // Another key with the same pieces but no normal verdict on its whole keeps its alert.
  WholeUnitStep c = w.Close(8, true, first, verdicts, KindRule::kExact);
  WholeUnitStep d = w.Close(8, false, KindOfLines({1, 2, 2, 2}), verdicts, KindRule::kExact);
  EXPECT_TRUE(c.alert);
  EXPECT_TRUE(d.alert);
  EXPECT_EQ(d.change, WholeUnitChange::kNone);
  EXPECT_EQ(w.keys(), 2u);
}

TEST(SessionWholeUnitsTest, ASilenceTheGrownKeyNoLongerMatchesBecomesALateAlert) {
  SessionKinds verdicts;
  const uint64_t normal_looking = KindOfLines({1, 2});  // the counts of a unit called normal
  verdicts.Label(normal_looking, 0);
  SessionWholeUnits w;
  // The detector alerted the first piece, its kind silenced it.
  WholeUnitStep a = w.Close(5, true, normal_looking, verdicts, KindRule::kExact);
  EXPECT_FALSE(a.alert);
  EXPECT_EQ(a.change, WholeUnitChange::kNone);
  // The key grew (a failure's lines): the verdict covered counts it no longer has.
  WholeUnitStep b = w.Close(5, false, KindOfLines({1, 2, 9}), verdicts, KindRule::kExact);
  EXPECT_TRUE(b.alert);
  EXPECT_FALSE(b.piece_alert);
  EXPECT_EQ(b.change, WholeUnitChange::kLateAlert);
  // A further piece that is alerted on its own changes nothing more.
  WholeUnitStep c = w.Close(5, true, KindOfLines({1, 2, 9, 9}), verdicts, KindRule::kExact);
  EXPECT_TRUE(c.alert);
  EXPECT_EQ(c.change, WholeUnitChange::kNone);
}

TEST(SessionWholeUnitsTest, AnAnomalousWholeKindRaisesOnlyUnderTheRaiseRule) {
  SessionKinds verdicts;
  const uint64_t whole = KindOfLines({4, 4, 5});
  verdicts.Label(whole, 1);
  for (KindRule rule : {KindRule::kExact, KindRule::kSilenceAndRaise}) {
    SessionWholeUnits w;
    EXPECT_FALSE(w.Close(3, false, KindOfLines({4, 4}), verdicts, rule).alert);
    const WholeUnitStep b = w.Close(3, false, whole, verdicts, rule);
    if (rule == KindRule::kSilenceAndRaise) {
      EXPECT_TRUE(b.alert);
      EXPECT_TRUE(b.piece_alert);  // the piece's own kind is the whole's: its own alert, not a late one
      EXPECT_EQ(b.change, WholeUnitChange::kNone);
    } else {
      EXPECT_FALSE(b.alert);
      EXPECT_EQ(b.change, WholeUnitChange::kNone);
    }
  }
}

// Union scoring as well (Close's `union_alert`): the key's union of pieces, judged at a later close,
// keeps the earlier pieces' detector alert only while it alerts. One decision per key: a union
// withdrawal holds at later pieces, a kind withdrawal is not repeated by the union, and a late
// alert needs the union to alert.
TEST(SessionWholeUnitsTest, AUnionThatNoLongerAlertsWithdrawsAndTheWithdrawalHolds) {
  SessionKinds verdicts;  // nothing labelled: only the union decides
  SessionWholeUnits w;
  EXPECT_TRUE(w.Close(7, true, KindOfLines({1}), verdicts, KindRule::kExact).alert);
  const WholeUnitStep b = w.Close(7, false, KindOfLines({1, 2}), verdicts, KindRule::kExact, false);
  EXPECT_FALSE(b.alert);
  EXPECT_FALSE(b.detector_alert);
  EXPECT_EQ(b.change, WholeUnitChange::kUnionWithdrawn);
  // A third piece without a judged union (or one that alerts) does not bring the cleared alert back.
  const WholeUnitStep c = w.Close(7, false, KindOfLines({1, 2, 3}), verdicts, KindRule::kExact);
  EXPECT_FALSE(c.alert);
  EXPECT_EQ(c.change, WholeUnitChange::kNone);
  // A union that still alerts keeps the alert; a piece that alerts on its own alerts whatever its union.
  EXPECT_TRUE(w.Close(8, true, KindOfLines({1}), verdicts, KindRule::kExact).alert);
  const WholeUnitStep d = w.Close(8, false, KindOfLines({1, 2}), verdicts, KindRule::kExact, true);
  EXPECT_TRUE(d.alert);
  EXPECT_EQ(d.change, WholeUnitChange::kNone);
  const WholeUnitStep e = w.Close(8, true, KindOfLines({1, 2, 3}), verdicts, KindRule::kExact, false);
  EXPECT_TRUE(e.alert);
  EXPECT_TRUE(e.detector_alert);
  // The first piece ignores `union_alert` (no union of pieces yet).
  EXPECT_TRUE(w.Close(9, true, KindOfLines({1}), verdicts, KindRule::kExact, false).alert);
}

TEST(SessionWholeUnitsTest, AKindWithdrawalIsNotRepeatedAndALateAlertNeedsTheUnion) {
  SessionKinds verdicts;
  const uint64_t whole = KindOfLines({1, 2});
  verdicts.Label(whole, 0);
  SessionWholeUnits w;
  // The whole unit's kind is labelled normal and its union no longer alerts: one withdrawal, by the
  // kind (the operator's verdict), and nothing at the next piece.
  EXPECT_TRUE(w.Close(1, true, KindOfLines({1}), verdicts, KindRule::kExact).alert);
  EXPECT_EQ(w.Close(1, false, whole, verdicts, KindRule::kExact, false).change, WholeUnitChange::kWithdrawn);
  EXPECT_EQ(w.Close(1, false, KindOfLines({1, 2, 3}), verdicts, KindRule::kExact, false).change,
            WholeUnitChange::kNone);
  // A detector alert silenced by the normal kind: the grown key alerts late only while its union does.
  for (const bool union_alert : {false, true}) {
    SessionWholeUnits x;
    EXPECT_FALSE(x.Close(2, true, whole, verdicts, KindRule::kExact).alert);
    const WholeUnitStep late = x.Close(2, false, KindOfLines({1, 2, 9}), verdicts, KindRule::kExact, union_alert);
    EXPECT_EQ(late.alert, union_alert);
    EXPECT_EQ(late.change, union_alert ? WholeUnitChange::kLateAlert : WholeUnitChange::kNone);
  }
}

TEST(SessionWholeUnitsTest, KeysBeyondTheCapAreForgotten) {
  SessionKinds verdicts;
  SessionWholeUnits w(2);
  for (uint64_t key : {1, 2, 3}) w.Close(key, true, KindOfLines({1}), verdicts, KindRule::kExact);
  EXPECT_EQ(w.keys(), 2u);
  EXPECT_EQ(w.Close(1, false, KindOfLines({1, 1}), verdicts, KindRule::kExact).piece, 1);  // forgotten
  EXPECT_EQ(w.Close(3, false, KindOfLines({1, 1}), verdicts, KindRule::kExact).piece, 2);
  w.Clear();
  EXPECT_EQ(w.keys(), 0u);
}

}  // namespace
}  // namespace fedlog::fewshot
