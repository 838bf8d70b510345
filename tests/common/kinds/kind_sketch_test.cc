#include "common/kinds/kind_sketch.h"

#include <cstdint>
#include <vector>

#include "common/kinds/kind_signature.h"
#include "gtest/gtest.h"

namespace fedlog::kinds {
namespace {

uint64_t K(const char* text) { return *KindSignature(text); }

TEST(KindSketchTest, CountsDistinctKindsPerUnit) {
  KindSketch s;
  s.AddUnit({K("a b"), K("a b"), K("c d")}, true);
  s.AddUnit({K("a b")}, false);
  EXPECT_EQ(s.Anomalous(K("a b")), 1);
  EXPECT_EQ(s.Normal(K("a b")), 1);
  EXPECT_EQ(s.Anomalous(K("c d")), 1);
  EXPECT_EQ(s.Anomalous(K("e f")), 0);
  EXPECT_EQ(s.units(), 2);
}

TEST(KindSketchTest, VerdictNeedsSupportAndPurity) {
  const KindVerdictOptions o;  // support 3, purity 0.9
  KindSketch s;
  for (int i = 0; i < 2; ++i) s.AddUnit({K("rare failure")}, true);
  EXPECT_EQ(s.VerdictOf(K("rare failure"), o), KindVerdict::kNone);  // 2 < 3
  s.AddUnit({K("rare failure")}, true);
  EXPECT_EQ(s.VerdictOf(K("rare failure"), o), KindVerdict::kAnomalous);
  for (int i = 0; i < 10; ++i) s.AddUnit({K("routine")}, false);
  EXPECT_EQ(s.VerdictOf(K("routine"), o), KindVerdict::kNormal);
  s.AddUnit({K("routine")}, true);  // 10 of 11 normal: still >= 0.9
  EXPECT_EQ(s.VerdictOf(K("routine"), o), KindVerdict::kNormal);
  s.AddUnit({K("routine")}, true);  // 10 of 12: mixed, no verdict
  EXPECT_EQ(s.VerdictOf(K("routine"), o), KindVerdict::kNone);
}

// The federation's sketch is the sum of the sites': merging equals counting everything at one site,
// and the counts vector round-trips (what the aggregator sums and ships).
TEST(KindSketchTest, MergeIsTheSumAndCountsRoundTrip) {
  KindSketch a, b, all;
  a.AddUnit({K("x y")}, true);
  all.AddUnit({K("x y")}, true);
  for (int i = 0; i < 2; ++i) {
    b.AddUnit({K("x y")}, true);
    all.AddUnit({K("x y")}, true);
  }
  a.Merge(b);
  EXPECT_EQ(a.counts(), all.counts());
  EXPECT_EQ(a.VerdictOf(K("x y"), {}), KindVerdict::kAnomalous);
  auto back = KindSketch::FromCounts(a.counts());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Anomalous(K("x y")), 3);
  EXPECT_FALSE(KindSketch::FromCounts({1, 2, 3}).ok());
  std::vector<double> bad = a.counts();
  bad[0] = -1;
  EXPECT_FALSE(KindSketch::FromCounts(bad).ok());
}

TEST(KindSketchTest, SuppressDropsSmallBuckets) {
  KindSketch s;
  s.AddUnit({K("once")}, true);
  for (int i = 0; i < 3; ++i) s.AddUnit({K("thrice")}, false);
  s.Suppress(3);
  EXPECT_EQ(s.Anomalous(K("once")), 0);
  EXPECT_EQ(s.Normal(K("thrice")), 3);
}

TEST(KindSketchTest, UnitVerdictLinesAndSessions) {
  KindVerdictOptions o;
  o.normal_sites = 1;  // one site's 3 normal units silence (a trusting deployment)
  KindSketch s;
  for (int i = 0; i < 3; ++i) {
    s.AddUnit({K("bad thing")}, true);
    s.AddUnit({K("ok thing")}, false);
  }
  EXPECT_EQ(UnitVerdict(s, {K("ok thing"), K("bad thing")}, false, o), KindVerdict::kAnomalous);
  EXPECT_EQ(UnitVerdict(s, {K("ok thing")}, true, o), KindVerdict::kNormal);
  EXPECT_EQ(UnitVerdict(s, {K("ok thing")}, false, o), KindVerdict::kNone);  // sessions never silenced
  EXPECT_EQ(UnitVerdict(s, {K("ok thing"), K("unseen")}, true, o), KindVerdict::kNone);
  EXPECT_EQ(UnitVerdict(s, {}, true, o), KindVerdict::kNone);
}

TEST(KindSketchTest, OptionsValidate) {
  EXPECT_TRUE(KindVerdictOptions().Validate().ok());
  KindVerdictOptions o;
  o.min_support = 0.5;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.purity = 0.5;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.normal_sites = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.anomalous_sites = kMaxVerdictSites + 1;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::kinds
