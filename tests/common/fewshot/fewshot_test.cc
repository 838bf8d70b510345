// The k > 0 detector: tokens, Jaccard, the 1-NN baseline, and a detector that uses both the support's
// words and the label-free signals.
#include "common/fewshot/fewshot.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

Unit Make(int32_t tpl, const std::string& text, std::vector<double> signals) {
  Unit u;
  AddTokens(tpl, text, &u);
  Finish(&u);
  u.signals = std::move(signals);
  return u;
}

TEST(FewShotTest, TokensDropNumbersAndJaccardCounts) {
  const Unit a = Make(1, "disk sda1 failed after 3 tries", {});
  const Unit b = Make(1, "disk sdb2 failed after 7 tries", {});
  // T1, disk, failed, after, tries (sda1 / 3 / sdb2 / 7 hold digits).
  EXPECT_EQ(a.tokens.size(), 5u);
  EXPECT_DOUBLE_EQ(Jaccard(a.tokens, b.tokens), 1.0);
  const Unit c = Make(2, "disk ok", {});
  EXPECT_DOUBLE_EQ(Jaccard(a.tokens, c.tokens), 1.0 / 7.0);  // {disk} of {T1,T2,disk,failed,after,tries,ok}
  EXPECT_DOUBLE_EQ(Jaccard({}, {}), 0.0);
}

TEST(FewShotTest, Jaccard1nnFollowsTheNearestClass) {
  const std::vector<Unit> support = {Make(1, "kernel panic on node", {}), Make(2, "job finished fine", {})};
  const std::vector<int> labels = {1, 0};
  EXPECT_GT(Jaccard1nnScore(Make(1, "kernel panic on rack", {}), support, labels), 0);
  EXPECT_LT(Jaccard1nnScore(Make(2, "job finished fine again", {}), support, labels), 0);
  // Leaving the only anomalous unit out, nothing is anomalous-like.
  EXPECT_LE(Jaccard1nnScore(support[0], support, labels, 0), 0);
}

TEST(FewShotTest, DetectorChecksItsInput) {
  const std::vector<Unit> s = {Make(1, "a", {0}), Make(1, "b", {0})};
  EXPECT_FALSE(FewShotDetector::Fit(s, {1}).ok());
  EXPECT_FALSE(FewShotDetector::Fit({}, {}).ok());
  FewShotOptions o;
  o.match = 0;
  EXPECT_FALSE(FewShotDetector::Fit(s, {1, 0}, o).ok());
  EXPECT_TRUE(FewShotDetector::Fit(s, {1, 1}).ok());  // one class is allowed
}

Unit Free(int32_t tpl, const std::string& text, double score, bool alert) {
  Unit u = Make(tpl, text, {});
  u.free_score = score;
  u.free_alert = alert;
  return u;
}

// Labels decide the units near them; elsewhere the label-free score against the threshold. Jaccard
// 1-NN decides every unit by its nearer class, however far both are.
TEST(FewShotTest, LabelsDecideNearUnitsAndTheLabelFreeDetectorTheRest) {
  const std::vector<Unit> support = {Free(1, "machine check interrupt", 0.99, true),
                                     Free(2, "ddr error corrected on node", 0.98, true),
                                     Free(3, "generating core", 0.1, false)};
  const std::vector<int> labels = {1, 0, 0};
  // The site's operating point is 0.95. On the support's label-free scores the best cut is 0.985
  // (between the anomalous 0.99 and the normal 0.98); three labels raise the threshold 3 / 8 of the
  // way (label_prior 5).
  auto d = FewShotDetector::Fit(support, labels, {}, 0.95);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_NEAR(d->threshold(), 0.95 + 3.0 / 8.0 * (0.985 - 0.95), 1e-9);
  // Near the anomalous label: alerts, ranked above everything.
  const Unit mc = Free(1, "machine check interrupt", 0.2, false);
  EXPECT_TRUE(d->Alert(mc));
  EXPECT_GT(d->Score(mc), 2.0);
  // Near a normal label: no alert even though the label-free detector alerted (a known false alarm).
  const Unit ddr = Free(2, "ddr error corrected on node", 0.99, true);
  EXPECT_FALSE(d->Alert(ddr));
  EXPECT_LT(d->Score(ddr), -1.0);
  // Far from every label: the label-free decision, made stricter by the raised threshold.
  const Unit novel = Free(9, "torus receiver link failure", 0.97, true);
  EXPECT_TRUE(d->Alert(novel));
  EXPECT_DOUBLE_EQ(d->Score(novel), 0.97);
  const Unit quiet = Free(8, "job started on partition", 0.3, false);
  EXPECT_FALSE(d->Alert(quiet));
  // The label-free detector alerted, below the raised threshold: with keep_alert_match (default 0.2)
  // the alert stands, as no normal label is near; with the threshold alone it is silenced.
  const Unit retried = Free(7, "link training retried", 0.955, true);
  EXPECT_TRUE(d->Alert(retried));
  FewShotOptions threshold_only;
  threshold_only.keep_alert_match = 0;
  EXPECT_FALSE(FewShotDetector::Fit(support, labels, threshold_only, 0.95)->Alert(retried));
  // Above the threshold but the label-free detector did not alert: labels add no alert here.
  const Unit unalerted = Free(6, "node card vpd check", 0.99, false);
  EXPECT_FALSE(d->Alert(unalerted));
  EXPECT_LT(d->DecisionScore(unalerted), d->threshold());
  EXPECT_GE(d->DecisionScore(novel), d->threshold());
  // The 1-NN baseline has no such fallback: the novel failure shares "failure"-free words with no
  // label, so it scores 0 and does not alert.
  EXPECT_LE(Jaccard1nnScore(novel, support, labels), 0.0);
}

// The threshold decides unmatched units, so it is cut on the label-free scale. With several labels of
// one anomalous template, each would match the others: a cut on those few-shot scores (above 2) would
// lift the threshold over every label-free score and no unmatched unit could alert again. A template
// labelled many times counts once.
TEST(FewShotTest, ThresholdStaysOnTheLabelFreeScaleAndCountsATemplateOnce) {
  std::vector<Unit> support;
  std::vector<int> labels;
  for (int i = 0; i < 10; ++i) {
    support.push_back(Free(1, "tlb data error interrupt", 0.9, true));
    labels.push_back(1);
  }
  support.push_back(Free(2, "instruction cache parity error corrected", 0.6, false));
  support.push_back(Free(3, "generating core", 0.2, false));
  labels.push_back(0);
  labels.push_back(0);
  auto d = FewShotDetector::Fit(support, labels, {}, 0.7);
  ASSERT_TRUE(d.ok()) << d.status();
  // Three distinct points (0.9 anomalous, 0.6 and 0.2 normal): cut 0.75, weight 3 / (3 + 5).
  EXPECT_NEAR(d->threshold(), 0.7 + 3.0 / 8.0 * (0.75 - 0.7), 1e-9);
  EXPECT_LT(d->threshold(), 1.0);
  const Unit novel = Free(9, "torus receiver link failure", 0.97, true);
  EXPECT_FALSE(d->Decide(novel).near);
  EXPECT_TRUE(d->Alert(novel));
  const FewShotDetector::Decision near = d->Decide(Free(1, "tlb data error interrupt", 0.1, false));
  EXPECT_TRUE(near.near);
  EXPECT_EQ(near.label, 1);
  EXPECT_DOUBLE_EQ(near.similarity, 1.0);
}

TEST(FewShotTest, QuantilesOfTheReferenceRoundTrip) {
  const std::vector<double> ref = {0.1, 0.2, 0.2, 0.4, 0.8};
  EXPECT_DOUBLE_EQ(QuantileOf(ref, 0.2), (1.0 + 3.0) / 10.0);  // mid-rank of the tie
  EXPECT_DOUBLE_EQ(QuantileOf(ref, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(QuantileOf(ref, 0.9), 1.0);
  for (double x : {0.1, 0.4, 0.8}) EXPECT_NEAR(ScoreAtQuantile(ref, QuantileOf(ref, x)), x, 1e-12);
  EXPECT_NEAR(ScoreAtQuantile(ref, 0.8), 0.6, 1e-12);  // halfway between 0.4 (0.7) and 0.8 (0.9)
  EXPECT_DOUBLE_EQ(ScoreAtQuantile(ref, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(ScoreAtQuantile(ref, 1.0), 0.8);
}

// With the stream's label-free scores as reference the threshold moves by quantiles: a monotone
// change of the label-free scale (here x -> x^3) moves the threshold with the scores and leaves
// every decision as it was, while the raw-unit rule would decide differently.
TEST(FewShotTest, ThresholdInQuantilesIgnoresAMonotoneChangeOfScale) {
  auto cube = [](double x) { return x * x * x; };
  std::vector<double> ref;
  for (int i = 0; i < 200; ++i) ref.push_back((i + 0.5) / 200.0);
  std::vector<Unit> support = {Free(1, "kernel panic", 0.9, true), Free(2, "link failure", 0.85, true),
                               Free(3, "job started", 0.8, true), Free(4, "job ended", 0.3, false)};
  const std::vector<int> labels = {1, 1, 0, 0};
  FewShotOptions o;
  o.label_prior = 4;
  o.keep_alert_match = 0;  // the threshold alone decides the unlabelled units below
  auto plain = FewShotDetector::Fit(support, labels, o, 0.5, ref);
  ASSERT_TRUE(plain.ok()) << plain.status();
  // F1-best cut at quantile 0.825 (between 0.8 and 0.85); from 0.5 half way (4 / (4 + 4)) there:
  // quantile 0.6625, a reference score.
  EXPECT_NEAR(plain->threshold(), 0.6625, 1e-9);
  std::vector<Unit> cubed = support;
  for (Unit& u : cubed) u.free_score = cube(u.free_score);
  std::vector<double> cubed_ref = ref;
  for (double& v : cubed_ref) v = cube(v);
  auto moved = FewShotDetector::Fit(cubed, labels, o, cube(0.5), cubed_ref);
  ASSERT_TRUE(moved.ok());
  auto raw = FewShotDetector::Fit(cubed, labels, o, cube(0.5));
  ASSERT_TRUE(raw.ok());
  int raw_differs = 0;
  for (int i = 0; i < 100; ++i) {
    const double x = (i + 0.25) / 100.0;
    Unit u = Free(100 + i, "never labelled words", x, true);
    Unit c = u;
    c.free_score = cube(x);
    EXPECT_EQ(plain->Alert(u), moved->Alert(c)) << x;
    raw_differs += plain->Alert(u) != raw->Alert(c) ? 1 : 0;
  }
  EXPECT_GT(raw_differs, 0);
  // Fewer than two reference scores: raw units.
  auto none = FewShotDetector::Fit(support, labels, o, 0.5, {0.5});
  ASSERT_TRUE(none.ok());
  EXPECT_NEAR(none->threshold(), 0.5 + 0.5 * (0.825 - 0.5), 1e-9);
}

// Labels only ever raise the threshold: k labels per class hold far more anomalies than the stream,
// so their F1-best cut sits low. Here the cut (0.425) is below the operating point (0.95) and the
// threshold stays at 0.95, in quantiles and in raw units alike.
TEST(FewShotTest, LabelsNeverLowerTheThreshold) {
  std::vector<double> ref;
  for (int i = 0; i < 200; ++i) ref.push_back((i + 0.5) / 200.0);
  const std::vector<Unit> support = {Free(1, "kernel panic", 0.55, false), Free(2, "link failure", 0.6, false),
                                     Free(3, "job started", 0.3, false), Free(4, "job ended", 0.2, false)};
  const std::vector<int> labels = {1, 1, 0, 0};
  FewShotOptions o;
  o.keep_alert_match = 0;  // the threshold alone decides the unlabelled unit below
  for (const std::vector<double>& r : {ref, std::vector<double>{}}) {
    auto d = FewShotDetector::Fit(support, labels, o, 0.95, r);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_DOUBLE_EQ(d->threshold(), 0.95);
    // An unmatched unit between the cut and the operating point does not alert.
    EXPECT_FALSE(d->Alert(Free(9, "torus receiver link error", 0.7, true)));
  }
}

// With lower_prior > 0 the labels' cut below the operating point pulls the threshold down by
// n / (n + lower_prior) (in quantiles of the reference), and an unmatched unit then alerts on its score
// alone as well; a cut above it still raises the threshold by label_prior.
TEST(FewShotTest, LowerPriorLetsLabelsLowerTheThreshold) {
  std::vector<double> ref;
  for (int i = 0; i < 200; ++i) ref.push_back((i + 0.5) / 200.0);
  const std::vector<Unit> support = {Free(1, "kernel panic", 0.55, false), Free(2, "link failure", 0.6, false),
                                     Free(3, "job started", 0.3, false), Free(4, "job ended", 0.2, false)};
  FewShotOptions o;
  o.lower_prior = 4;  // four distinct labels: half way
  auto d = FewShotDetector::Fit(support, {1, 1, 0, 0}, o, 0.95, ref);
  ASSERT_TRUE(d.ok()) << d.status();
  // The labels' cut: between 0.3 and 0.55, at 0.425; half way from 0.95.
  EXPECT_NEAR(d->threshold(), 0.95 + 0.5 * (0.425 - 0.95), 1e-9);
  EXPECT_TRUE(d->lowered());
  const Unit above = Free(9, "torus receiver link error", 0.7, false);
  const Unit below = Free(9, "torus receiver link error", 0.65, false);
  const Unit below_alerted = Free(9, "torus receiver link error", 0.65, true);
  ASSERT_FALSE(d->Decide(above).near);
  EXPECT_TRUE(d->Alert(above));
  EXPECT_FALSE(d->Alert(below));
  EXPECT_TRUE(d->Alert(below_alerted));  // the label-free alert stands
  for (const Unit& u : {above, below, below_alerted}) {
    EXPECT_EQ(d->Alert(u), d->DecisionScore(u) >= d->threshold());
  }
  // Raw units (no reference): the same move on the score scale.
  auto raw = FewShotDetector::Fit(support, {1, 1, 0, 0}, o, 0.95);
  ASSERT_TRUE(raw.ok());
  EXPECT_NEAR(raw->threshold(), 0.95 + 0.5 * (0.425 - 0.95), 1e-9);
  // A cut above the operating point raises it as before and lowers nothing.
  auto up = FewShotDetector::Fit(support, {1, 1, 0, 0}, o, 0.1, ref);
  ASSERT_TRUE(up.ok());
  EXPECT_GT(up->threshold(), 0.1);
  EXPECT_FALSE(up->lowered());
  EXPECT_FALSE(up->Alert(Free(9, "torus receiver link error", 0.9, false)));
  // lower_prior 0: never lowered; negative: invalid.
  EXPECT_FALSE(FewShotDetector::Fit(support, {1, 1, 0, 0}, {}, 0.95, ref)->lowered());
  o.lower_prior = -1;
  EXPECT_FALSE(FewShotDetector::Fit(support, {1, 1, 0, 0}, o, 0.95, ref).ok());
}

// Whatever the labels, an unmatched unit alerts only where the label-free detector did: the k > 0
// decision of a unit no label is near never adds an alert to k = 0's.
TEST(FewShotTest, UnmatchedUnitsAlertOnlyWhereTheLabelFreeDetectorDid) {
  std::vector<double> ref;
  for (int i = 0; i < 100; ++i) ref.push_back(i / 100.0);
  const std::vector<Unit> support = {Free(1, "kernel panic", 0.1, false), Free(2, "job started", 0.99, true)};
  auto d = FewShotDetector::Fit(support, {1, 0}, {}, 0.05, ref);
  ASSERT_TRUE(d.ok());
  for (int i = 0; i < 100; ++i) {
    for (bool alerted : {false, true}) {
      const Unit u = Free(50 + i, "ciod message never labelled", i / 100.0, alerted);
      ASSERT_FALSE(d->Decide(u).near);
      if (!alerted) {
        EXPECT_FALSE(d->Alert(u)) << i;
      }
      EXPECT_EQ(d->Alert(u), d->DecisionScore(u) >= d->threshold()) << i;
    }
  }
}

// A unit exactly as near an anomalous as a normal label is no verdict: the label-free decision stands
// (Jaccard 1-NN, strict >, calls it normal).
TEST(FewShotTest, AnEqualTieBetweenTheClassesDecidesNothing) {
  const std::vector<Unit> support = {Free(1, "alpha beta gamma", 0.2, false),
                                     Free(1, "alpha beta delta", 0.2, false)};
  auto d = FewShotDetector::Fit(support, {1, 0}, {}, 0.5);
  ASSERT_TRUE(d.ok());
  const Unit u = Free(1, "alpha beta", 0.9, true);  // 3 / 4 of either label's tokens
  EXPECT_DOUBLE_EQ(Jaccard(u.tokens, support[0].tokens), Jaccard(u.tokens, support[1].tokens));
  EXPECT_FALSE(d->Decide(u).near);
  EXPECT_TRUE(d->Alert(u));
  EXPECT_FALSE(d->Alert(Free(1, "alpha beta", 0.9, false)));
  EXPECT_TRUE(d->Decide(Free(1, "alpha beta gamma", 0.0, false)).near);
}

// A session-like unit near labels of both classes, nearer the normal one by less than the margin:
// the labels do not decide it, so the label-free alert stands; with a smaller margin the nearer
// (normal) label silences it, and a unit near one class only is decided whatever the margin.
TEST(FewShotTest, ANearTieBetweenNearClassesKeepsTheLabelFreeDecision) {
  // 8 tokens each (T1 and seven words), 7 shared.
  const std::vector<Unit> support = {Free(1, "open read write close sync flush error", 0.9, true),
                                     Free(1, "open read write close sync flush commit", 0.1, false)};
  // The normal label's tokens: 1.0 against 7 / 9 = 0.778 with the anomalous one (gap 0.222).
  const Unit wide = Free(1, "open read write close sync flush commit", 0.95, true);
  // Two more tokens: 8 / 9 = 0.889 normal against 7 / 10 = 0.7 anomalous (gap 0.189).
  const Unit narrow = Free(1, "open read write close sync flush commit retry", 0.95, true);
  const Unit tie = Free(1, "open read write close sync flush", 0.95, true);  // 7 / 8 with either
  FewShotOptions o;
  o.both_near_margin = 0.2;
  auto d = FewShotDetector::Fit(support, {1, 0}, o, 0.5);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->Decide(wide).near);
  EXPECT_FALSE(d->Alert(wide));
  EXPECT_FALSE(d->Decide(narrow).near);  // 0.189 < 0.2: no verdict, the label-free alert stands
  EXPECT_TRUE(d->Alert(narrow));
  EXPECT_FALSE(d->Alert(Free(1, "open read write close sync flush commit retry", 0.95, false)));
  o.both_near_margin = 0.15;
  d = FewShotDetector::Fit(support, {1, 0}, o, 0.5);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->Decide(narrow).near);  // 0.189 >= 0.15: the normal label decides
  EXPECT_FALSE(d->Alert(narrow));
  o.both_near_margin = 0;
  d = FewShotDetector::Fit(support, {1, 0}, o, 0.5);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->Alert(narrow));
  EXPECT_FALSE(d->Decide(tie).near);  // an exact tie still decides nothing
  // Near the anomalous label only (3 / 9 = 0.333 against 2 / 10 = 0.2): decided whatever the margin.
  o.both_near_margin = 1;
  d = FewShotDetector::Fit(support, {1, 0}, o, 0.5);
  ASSERT_TRUE(d.ok());
  const Unit lone = Free(2, "open write error", 0.1, false);
  EXPECT_TRUE(d->Decide(lone).near);
  EXPECT_TRUE(d->Alert(lone));
  EXPECT_FALSE(d->Decide(narrow).near);
  o.both_near_margin = 1.5;
  EXPECT_FALSE(FewShotDetector::Fit(support, {1, 0}, o, 0.5).ok());
  EXPECT_DOUBLE_EQ(FewShotOptions{}.both_near_margin, 0.1);
}

// With normal_match, a normal label silences only the units that share that much of its tokens;
// anomalous labels still decide from `match`.
TEST(FewShotTest, NormalMatchSilencesOnlyCloseUnits) {
  const std::vector<Unit> support = {Free(1, "disk error on write", 0.9, true),
                                     Free(2, "block replicated to three nodes fine", 0.1, false)};
  // 6 of the normal label's 7 tokens and none of the anomalous one's: 6 / 8 = 0.75.
  const Unit sibling = Free(2, "block replicated to three nodes again", 0.95, true);
  FewShotOptions o;
  auto d = FewShotDetector::Fit(support, {1, 0}, o, 0.5);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->Decide(sibling).near);
  EXPECT_FALSE(d->Alert(sibling));
  o.normal_match = 0.9;
  d = FewShotDetector::Fit(support, {1, 0}, o, 0.5);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->Decide(sibling).near);  // 0.75 < 0.9: the label-free alert stands
  EXPECT_TRUE(d->Alert(sibling));
  EXPECT_FALSE(d->Alert(Free(2, "block replicated to three nodes fine", 0.95, true)));  // identical
  EXPECT_TRUE(d->Alert(Free(1, "disk error on read", 0.1, false)));  // 4 / 6 anomalous: decided
  o.normal_match = -0.1;
  EXPECT_FALSE(FewShotDetector::Fit(support, {1, 0}, o, 0.5).ok());
}

TEST(FewShotTest, OperatingPointIsTheAlertRateQuantile) {
  std::vector<double> ref;
  for (int i = 0; i < 100; ++i) ref.push_back((i + 0.5) / 100.0);
  EXPECT_NEAR(OperatingPoint(ref, 0.1), 0.9, 1e-12);
  EXPECT_DOUBLE_EQ(OperatingPoint(ref, 0.0), ref.back());
  EXPECT_DOUBLE_EQ(OperatingPoint(ref, 2.0), ref.front());
}

TEST(FewShotTest, ReferenceOfClampsSortsAndCutsAtItsOwnAlertRate) {
  std::vector<Unit> units;
  for (int i = 0; i < 12; ++i) {
    Unit u;
    u.free_score = i == 0 ? 3.0 : i == 1 ? -1.0 : (i + 0.5) / 12.0;
    u.free_alert = i == 0 || i == 11;
    units.push_back(u);
  }
  std::vector<size_t> which;
  for (size_t i = 0; i < 10; ++i) which.push_back(i);  // units 0-9: one alert of ten
  const FreeReference r = ReferenceOf(units, which);
  ASSERT_EQ(r.sorted.size(), 10u);
  EXPECT_DOUBLE_EQ(r.sorted.front(), 0.0);  // -1 clamped
  EXPECT_DOUBLE_EQ(r.sorted.back(), 1.0);   // 3 clamped
  EXPECT_TRUE(std::is_sorted(r.sorted.begin(), r.sorted.end()));
  EXPECT_DOUBLE_EQ(r.operating_point, OperatingPoint(r.sorted, 0.1));
  EXPECT_DOUBLE_EQ(ReferenceOf(units, {}).operating_point, 1.0);
  EXPECT_TRUE(ReferenceOf(units, {}).sorted.empty());
}

// keep_alert_match: a label-free alert on a unit no label decides stands, below the threshold too,
// unless a normal label near it (sharing at least keep_alert_match of its tokens, nearer than every
// anomalous label) says otherwise. Off (0), the threshold alone decides, as before.
TEST(FewShotTest, KeepAlertMatchKeepsLabelFreeAlertsFarFromNormalLabels) {
  std::vector<double> ref;
  for (int i = 0; i < 200; ++i) ref.push_back((i + 0.5) / 200.0);
  const std::vector<Unit> support = {Free(1, "kernel panic", 0.99, true), Free(3, "job started on node", 0.2, false)};
  const std::vector<int> labels = {1, 0};
  // An alerted unit below the operating point (0.95), far from both labels.
  const Unit far = Free(9, "torus receiver link error", 0.6, true);
  // The same below the threshold, sharing 2 of 9 tokens (0.22) with the normal label: not matched.
  const Unit near_normal = Free(7, "job started with error code", 0.6, true);
  const Unit quiet = Free(9, "torus receiver link error", 0.6, false);
  FewShotOptions o;
  o.keep_alert_match = 0;
  auto off = FewShotDetector::Fit(support, labels, o, 0.95, ref);
  ASSERT_TRUE(off.ok()) << off.status();
  ASSERT_FALSE(off->Decide(far).near);
  ASSERT_FALSE(off->Decide(near_normal).near);
  EXPECT_FALSE(off->Alert(far));  // re-cut at the operating point
  EXPECT_FALSE(off->Alert(near_normal));
  o.keep_alert_match = 0.3;
  auto keep = FewShotDetector::Fit(support, labels, o, 0.95, ref);
  ASSERT_TRUE(keep.ok()) << keep.status();
  EXPECT_TRUE(keep->Alert(far));
  EXPECT_TRUE(keep->Alert(near_normal));  // 0.22 < 0.3: not near enough to silence it
  EXPECT_FALSE(keep->Alert(quiet));       // never adds an alert the label-free detector did not raise
  o.keep_alert_match = 0.2;
  auto loose = FewShotDetector::Fit(support, labels, o, 0.95, ref);
  ASSERT_TRUE(loose.ok());
  EXPECT_TRUE(loose->Alert(far));
  EXPECT_FALSE(loose->Alert(near_normal));  // 0.22 >= 0.2: the normal label silences it
  // Above the threshold the label-free alert stands whatever is near.
  EXPECT_TRUE(loose->Alert(Free(7, "job started with error code", 0.99, true)));
  for (const Unit& u : {far, near_normal, quiet}) {
    EXPECT_EQ(keep->Alert(u), keep->DecisionScore(u) >= keep->threshold());
  }
  o.keep_alert_match = 1.5;
  EXPECT_FALSE(FewShotDetector::Fit(support, labels, o, 0.95, ref).ok());
}

}  // namespace
}  // namespace fedlog::fewshot
