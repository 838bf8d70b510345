// fewshot::SessionKinds: a kind is a key's exact template counts; labels decide only exact kinds,
// a kind labelled both ways decides nothing, and the rules silence (and raise) as documented.
#include "common/fewshot/session_kinds.h"

#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

TEST(SessionKindsTest, AKindIsTheKeysExactTemplateCounts) {
  SessionKinds k;
  EXPECT_EQ(k.KindOf(7), 0u);
  for (int32_t t : {1, 2, 2}) k.AddLine(7, t);
  for (int32_t t : {2, 1, 2}) k.AddLine(8, t);  // the same counts in another order
  k.AddLine(9, 1);
  k.AddLine(9, 2);
  EXPECT_NE(k.KindOf(7), 0u);
  EXPECT_EQ(k.KindOf(7), k.KindOf(8));
  EXPECT_NE(k.KindOf(7), k.KindOf(9));  // one count differs
  k.AddLine(9, 2);
  EXPECT_EQ(k.KindOf(7), k.KindOf(9));
  absl::flat_hash_map<int32_t, int64_t> counts = {{2, 2}, {1, 1}};
  EXPECT_EQ(SessionKinds::KindOfCounts(counts), k.KindOf(7));
}

TEST(SessionKindsTest, LabelsDecideExactKindsAndATieDecidesNothing) {
  SessionKinds k;
  const uint64_t normal = 11, anomalous = 12, both = 13, unknown = 14;
  k.Label(normal, 0);
  k.Label(anomalous, 1);
  k.Label(both, 0);
  k.Label(both, 1);
  k.Label(0, 0);  // ignored
  EXPECT_EQ(k.Decide(normal), 0);
  EXPECT_EQ(k.Decide(anomalous), 1);
  EXPECT_FALSE(k.Decide(both).has_value());
  EXPECT_FALSE(k.Decide(unknown).has_value());
  EXPECT_EQ(k.labels(), 3u);
  // kSilence: a normal kind silences an alert; nothing else changes.
  EXPECT_FALSE(k.Apply(KindRule::kSilence, normal, true));
  EXPECT_FALSE(k.Apply(KindRule::kSilence, anomalous, false));
  EXPECT_TRUE(k.Apply(KindRule::kSilence, anomalous, true));
  EXPECT_TRUE(k.Apply(KindRule::kSilence, both, true));
  EXPECT_TRUE(k.Apply(KindRule::kSilence, unknown, true));
  // kSilenceAndRaise: an anomalous kind also alerts.
  EXPECT_TRUE(k.Apply(KindRule::kSilenceAndRaise, anomalous, false));
  EXPECT_FALSE(k.Apply(KindRule::kSilenceAndRaise, normal, true));
  EXPECT_FALSE(k.Apply(KindRule::kSilenceAndRaise, unknown, false));
  // kExact silences as kSilence and never raises.
  EXPECT_FALSE(k.Apply(KindRule::kExact, normal, true));
  EXPECT_FALSE(k.Apply(KindRule::kExact, anomalous, false));
  // Off: the verdicts' decision.
  EXPECT_TRUE(k.Apply(KindRule::kOff, normal, true));
  k.ClearLabels();
  EXPECT_TRUE(k.Apply(KindRule::kSilence, normal, true));
}

TEST(SessionKindsTest, OldKeysAreForgottenAndRulesParse) {
  SessionKinds k(2);
  k.AddLine(1, 5);
  k.AddLine(2, 5);
  k.AddLine(3, 5);
  EXPECT_EQ(k.KindOf(1), 0u);
  EXPECT_NE(k.KindOf(3), 0u);
  EXPECT_EQ(k.keys(), 2u);
  for (KindRule r : {KindRule::kOff, KindRule::kSilence, KindRule::kSilenceAndRaise, KindRule::kExact}) {
    absl::StatusOr<KindRule> p = ParseKindRule(KindRuleName(r));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, r);
  }
  EXPECT_FALSE(ParseKindRule("sometimes").ok());
}

}  // namespace
}  // namespace fedlog::fewshot
