#include "common/model/few_shot_fused.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/model/unit_vectors.h"

namespace fedlog::model {
namespace {

using testing::At;
using testing::Rows;

TEST(FusedFewShotTest, NearLabelsDecideFarUnitsKeepTheLabelFreeScore) {
  // Normal at 0 and 10 degrees, anomalous at 90 and 100; match = cos(20 degrees).
  const std::vector<float> support = Rows({At(0), At(10), At(90), At(100)});
  FusedFewShotOptions o;
  o.match = std::cos(20 * M_PI / 180.0);
  auto det = FusedFewShotDetector::Fit(support, 2, {0.1, 0.2, 0.3, 0.4}, {0, 0, 1, 1}, o, 0.8);
  ASSERT_TRUE(det.ok()) << det.status();
  const std::vector<float> near_anomaly = At(95), near_normal = At(5), far = At(45);
  EXPECT_GT(det->Score(near_anomaly.data(), 0.0), 2.9);  // 2 + similarity, whatever the free score
  EXPECT_TRUE(det->Alert(near_anomaly.data(), 0.0));
  EXPECT_LT(det->Score(near_normal.data(), 1.0), -1.9);  // -1 - similarity
  EXPECT_FALSE(det->Alert(near_normal.data(), 1.0));
  EXPECT_FALSE(det->Matched(far.data()));
  EXPECT_DOUBLE_EQ(det->Score(far.data(), 0.37), 0.37);
  // The threshold moved from 0.8 towards the leave-one-out cut (between -1.98 and 2.98) by 4 / 14.
  EXPECT_LT(det->threshold(), 0.8);
  EXPECT_GT(det->threshold(), 0.0);
}

TEST(FusedFewShotTest, WithoutAnomalousLabelsTheThresholdStaysLabelFree) {
  const std::vector<float> support = Rows({At(0), At(10)});
  FusedFewShotOptions o;
  o.match = 0.9;
  auto det = FusedFewShotDetector::Fit(support, 2, {0.1, 0.2}, {0, 0}, o, 0.7);
  ASSERT_TRUE(det.ok());
  EXPECT_DOUBLE_EQ(det->threshold(), 0.7);
  const std::vector<float> far = At(120);
  EXPECT_TRUE(det->Alert(far.data(), 0.75));
  EXPECT_FALSE(det->Alert(far.data(), 0.65));
}

TEST(FusedFewShotTest, RejectsMismatchedInputs) {
  FusedFewShotOptions o;
  EXPECT_FALSE(FusedFewShotDetector::Fit(Rows({At(0)}), 2, {0.1, 0.2}, {0, 1}, o, 0.5).ok());
  EXPECT_FALSE(FusedFewShotDetector::Fit({}, 2, {}, {}, o, 0.5).ok());
  o.match = 1.5;
  EXPECT_FALSE(FusedFewShotDetector::Fit(Rows({At(0)}), 2, {0.1}, {0}, o, 0.5).ok());
}

TEST(FusedFewShotTest, MatchFromReferenceIsAQuantileOfNearestSimilarities) {
  // Three rows at 0, 10 and 90 degrees: nearest similarities cos 10, cos 10, cos 80.
  const std::vector<float> sample = Rows({At(0), At(10), At(90)});
  auto lo = MatchFromReference(sample, 2, 0.0);
  auto hi = MatchFromReference(sample, 2, 1.0);
  ASSERT_TRUE(lo.ok() && hi.ok());
  EXPECT_NEAR(*lo, std::cos(80 * M_PI / 180.0), 1e-6);
  EXPECT_NEAR(*hi, std::cos(10 * M_PI / 180.0), 1e-6);
  EXPECT_FALSE(MatchFromReference(Rows({At(0)}), 2, 0.5).ok());
  EXPECT_FALSE(MatchFromReference(sample, 2, 1.5).ok());
}

TEST(FusedFewShotTest, PoolEmbeddingsIsTheUnitNormMean) {
  const std::vector<float> rows = {1, 0, 0, 1, -1, 0};
  const std::vector<float> pooled = PoolEmbeddings(rows, 2, {0, 1});
  EXPECT_NEAR(pooled[0], std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(pooled[1], std::sqrt(0.5), 1e-6);
  const std::vector<float> zero = PoolEmbeddings(rows, 2, {0, 2});  // opposite rows cancel
  EXPECT_FLOAT_EQ(zero[0], 0.0f);
  EXPECT_FLOAT_EQ(zero[1], 0.0f);
}

TEST(FusedFewShotTest, CentringSpreadsANarrowConeOfSessions) {
  // Three pooled sessions within 2 degrees of each other: cosine ~0.999 before centring.
  std::vector<float> z = Rows({At(44), At(45), At(46), At(135)});
  CentreEmbeddings(&z, 2, {0, 1, 2});
  const double s02 = z[0] * z[4] + z[1] * z[5];
  EXPECT_LT(s02, -0.99);  // the two sides of the cone now point apart
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(std::sqrt(z[2 * i] * z[2 * i] + z[2 * i + 1] * z[2 * i + 1]), 1.0, 1e-5);
  }
  std::vector<float> twins = {1, 0, 1, 0};
  CentreEmbeddings(&twins, 2, {0, 1});
  for (float v : twins) EXPECT_FLOAT_EQ(v, 0.0f);  // equal to the mean: all zeros
  std::vector<float> same = Rows({At(10), At(20)});
  CentreEmbeddings(&same, 2, {});
  EXPECT_FLOAT_EQ(same[0], At(10)[0]);  // no reference: unchanged
}

}  // namespace
}  // namespace fedlog::model
