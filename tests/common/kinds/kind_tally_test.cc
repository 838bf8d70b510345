// One site's capped kind sketch (kind_tally.h) and the verdicts' site rule (KindVerdictOptions::
// normal_sites / anomalous_sites): what one lying site can and cannot do to the federation's verdicts.
#include "common/kinds/kind_tally.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/kinds/kind_signature.h"
#include "gtest/gtest.h"

namespace fedlog::kinds {
namespace {

uint64_t K(const char* text) { return *KindSignature(text); }

KindTally Site(uint64_t kind, int anomalous, int normal) {
  KindTally t;
  for (int i = 0; i < anomalous; ++i) t.AddUnit({kind}, true);
  for (int i = 0; i < normal; ++i) t.AddUnit({kind}, false);
  return t;
}

// The largest bucket (both classes of one row and column together) of a sketch.
double LargestBucket(const KindSketch& s) {
  const size_t per_class = static_cast<size_t>(KindSketch::kRows) * KindSketch::kColumns;
  double most = 0;
  for (size_t i = 0; i < per_class; ++i) most = std::max(most, s.counts()[i] + s.counts()[per_class + i]);
  return most;
}

TEST(KindTallyTest, CapKeepsTheClassProportion) {
  KindTally t = Site(K("disk failure"), 100, 10);
  t.AddUnit({K("routine"), K("routine")}, false);
  const KindSketch s = t.CappedSketch();
  EXPECT_NEAR(s.Anomalous(K("disk failure")), 4 * 100.0 / 110, 1e-9);
  EXPECT_NEAR(s.Normal(K("disk failure")), 4 * 10.0 / 110, 1e-9);
  EXPECT_EQ(s.Normal(K("routine")), 1);  // below the cap: unchanged, duplicates count once
  EXPECT_LE(LargestBucket(s), kSiteBucketCap);
  EXPECT_EQ(t.UncappedSketch().Anomalous(K("disk failure")), 100);
  EXPECT_EQ(t.units(), 111);
}

// Kinds that collide in a bucket: the bucket is capped too, so no bucket of a site's sketch exceeds the cap.
TEST(KindTallyTest, EveryBucketIsCapped) {
  KindTally t;
  for (int i = 0; i < 20000; ++i) {  // more kinds than columns: many collide
    const uint64_t k = K(("kind " + std::string(1, static_cast<char>('a' + i % 26)) + " x" +
                          std::string(static_cast<size_t>(1 + i / 26), 'q')).c_str());
    for (int j = 0; j < 3; ++j) t.AddUnit({k}, j == 0);
  }
  EXPECT_LE(LargestBucket(t.CappedSketch()), kSiteBucketCap + 1e-9);
  EXPECT_GT(LargestBucket(t.UncappedSketch()), kSiteBucketCap);
  KindSketch s;
  s.AddKind(K("x"), 6, 2);
  s.CapBuckets(4);
  EXPECT_DOUBLE_EQ(s.Anomalous(K("x")), 3);
  EXPECT_DOUBLE_EQ(s.Normal(K("x")), 1);
}

// A solo honest site still reaches an anomalous verdict; its normal verdict needs a second site by default.
TEST(KindTallyTest, OneHonestSiteAloneRaisesButDoesNotSilence) {
  const KindVerdictOptions o;
  EXPECT_EQ(Site(K("machine check"), 3, 0).CappedSketch().VerdictOf(K("machine check"), o), KindVerdict::kAnomalous);
  EXPECT_EQ(Site(K("machine check"), 500, 20).CappedSketch().VerdictOf(K("machine check"), o),
            KindVerdict::kAnomalous);
  EXPECT_EQ(Site(K("job started"), 0, 50).CappedSketch().VerdictOf(K("job started"), o), KindVerdict::kNone);
  KindVerdictOptions trusting = o;
  trusting.normal_sites = 1;
  EXPECT_EQ(Site(K("job started"), 0, 50).CappedSketch().VerdictOf(K("job started"), trusting),
            KindVerdict::kNormal);
}

// The attack: a liar uploads a huge opposite count. Uncapped it flips two honest sites' verdict; capped it can
// at most take the verdict away.
TEST(KindTallyTest, ALiarCannotFlipTwoHonestSites) {
  const uint64_t k = K("kernel panic");
  const KindVerdictOptions o;
  KindSketch uncapped = Site(k, 5, 0).UncappedSketch();
  uncapped.Merge(Site(k, 6, 0).UncappedSketch());
  EXPECT_EQ(uncapped.VerdictOf(k, o), KindVerdict::kAnomalous);
  uncapped.Merge(Site(k, 0, 100000).UncappedSketch());
  EXPECT_EQ(uncapped.VerdictOf(k, o), KindVerdict::kNormal);  // flipped: what the cap prevents
  KindSketch capped = Site(k, 5, 0).CappedSketch();
  capped.Merge(Site(k, 6, 0).CappedSketch());
  capped.Merge(Site(k, 0, 100000).CappedSketch());
  EXPECT_NE(capped.VerdictOf(k, o), KindVerdict::kNormal);
}

// The attack: a liar labels an incident kind nobody else labelled as normal. Alone it cannot silence it by
// default, whatever its count; two sites that agree can.
TEST(KindTallyTest, ALiarAloneCannotSilence) {
  const uint64_t k = K("link error on torus");
  const KindVerdictOptions o;
  EXPECT_EQ(Site(k, 0, 1000000).UncappedSketch().VerdictOf(k, o), KindVerdict::kNormal);  // uncapped: it would
  EXPECT_EQ(Site(k, 0, 1000000).CappedSketch().VerdictOf(k, o), KindVerdict::kNone);
  KindSketch two = Site(k, 0, 3).CappedSketch();
  two.Merge(Site(k, 0, 40).CappedSketch());
  EXPECT_EQ(two.VerdictOf(k, o), KindVerdict::kNormal);
}

}  // namespace
}  // namespace fedlog::kinds
