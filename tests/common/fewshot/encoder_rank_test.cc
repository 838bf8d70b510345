// The encoder part of the k > 0 detector (FewShotOptions::encoder_weight, encoder_rank.h): the labels'
// class means in the site's encoder space reorder the units no label decides.
#include <string>
#include <vector>

#include "common/fewshot/fewshot.h"
#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

Unit Embedded(int32_t tpl, const std::string& text, double score, bool alert, std::vector<float> z) {
  Unit u;
  AddTokens(tpl, text, &u);
  Finish(&u);
  u.free_score = score;
  u.free_alert = alert;
  u.embedding = std::move(z);
  return u;
}

// 100 reference units with label-free scores 0.00 .. 0.99 (the top 5 alerted) and embeddings near
// x = y, whose encoder order is a permutation unrelated to the label-free one.
std::vector<Unit> Reference() {
  std::vector<Unit> out;
  for (int i = 0; i < 100; ++i) {
    const float t = 0.001f * static_cast<float>((i * 37) % 100);
    out.push_back(Embedded(10 + i, "routine line " + std::string(1, static_cast<char>('a' + i % 26)),
                           0.01 * i, i >= 95, {0.5f + t, 0.5f - t, 1.0f}));
  }
  return out;
}

std::vector<const Unit*> Pointers(const std::vector<Unit>& units) {
  std::vector<const Unit*> out;
  for (const Unit& u : units) out.push_back(&u);
  return out;
}

struct Fitted {
  std::vector<Unit> support;
  std::vector<int> labels;
};

// One anomalous label along x, one normal along y, worded unlike any other unit (no Jaccard match).
Fitted Labels() {
  return {{Embedded(1, "kernel panic", 0.5, false, {1, 0, 0}), Embedded(2, "job done", 0.5, false, {0, 1, 0})},
          {1, 0}};
}

absl::StatusOr<FewShotDetector> FitWith(double weight, const std::vector<Unit>& reference,
                                        const Fitted& f) {
  FewShotOptions o;
  o.encoder_weight = weight;
  std::vector<double> scores;
  for (const Unit& u : reference) scores.push_back(u.free_score);
  // The encoder-free operating point at the reference's 5% alert rate.
  return FewShotDetector::Fit(f.support, f.labels, o, 0.95, scores, Pointers(reference));
}

TEST(EncoderRankTest, ClassMeansLiftAUnitTheLabelFreeDetectorMissed) {
  const std::vector<Unit> reference = Reference();
  // A unit of middling label-free score (no label-free alert) that lies along the anomalous labels.
  const Unit near_anomalous = Embedded(50, "disk controller reset", 0.9, false, {1, 0.05f, 0});
  // A unit the label-free detector alerted on that lies along the normal labels.
  const Unit near_normal = Embedded(51, "heartbeat sent", 0.99, true, {0.05f, 1, 0});
  absl::StatusOr<FewShotDetector> off = FitWith(0, reference, Labels());
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->encoder());
  EXPECT_FALSE(off->Alert(near_anomalous));
  EXPECT_TRUE(off->Alert(near_normal));
  absl::StatusOr<FewShotDetector> on = FitWith(0.8, reference, Labels());
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->encoder());
  EXPECT_TRUE(on->Alert(near_anomalous));
  EXPECT_FALSE(on->Alert(near_normal));
  EXPECT_GT(on->Score(near_anomalous), on->Score(near_normal));
  // The fused scale is a rank: in [0, 1] for the units no label decides.
  EXPECT_GE(on->Score(near_normal), 0.0);
  EXPECT_LE(on->Score(near_anomalous), 1.0);
}

TEST(EncoderRankTest, AtTheReferenceRateTheCountIsTheLabelFreeOne) {
  // The reference units alert at the reference's own rate on the fused scale: the encoder reorders
  // which units fill the label-free count, it does not add to it (no label raises the threshold
  // here: both labelled units sit below the operating point).
  const std::vector<Unit> reference = Reference();
  absl::StatusOr<FewShotDetector> on = FitWith(0.5, reference, Labels());
  ASSERT_TRUE(on.ok()) << on.status();
  int alerts = 0;
  for (const Unit& u : reference) alerts += on->Alert(u) ? 1 : 0;
  EXPECT_NEAR(alerts, 5, 1);
}

TEST(EncoderRankTest, WithoutEmbeddedLabelsOfBothClassesTheRuleIsEncoderFree) {
  const std::vector<Unit> reference = Reference();
  Fitted f = Labels();
  f.support[1].embedding.clear();  // the normal label has no embedding
  absl::StatusOr<FewShotDetector> d = FitWith(0.5, reference, f);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->encoder());
  EXPECT_DOUBLE_EQ(d->threshold(), 0.95);
  // Without a reference there is no rank scale either.
  FewShotOptions o;
  o.encoder_weight = 0.5;
  absl::StatusOr<FewShotDetector> alone = FewShotDetector::Fit(Labels().support, Labels().labels, o, 0.95);
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(alone->encoder());
}

TEST(EncoderRankTest, WeightMustBeAShare) {
  FewShotOptions o;
  o.encoder_weight = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o.encoder_weight = -0.1;
  EXPECT_FALSE(o.Validate().ok());
  o.encoder_weight = 1;
  EXPECT_TRUE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::fewshot
