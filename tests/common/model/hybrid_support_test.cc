#include "common/model/hybrid_support.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

// Unit vectors in 2-D at `degrees`.
std::vector<float> At(double degrees) {
  const double r = degrees * M_PI / 180.0;
  return {static_cast<float>(std::cos(r)), static_cast<float>(std::sin(r))};
}

std::vector<float> Rows(const std::vector<std::vector<float>>& rows) {
  std::vector<float> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

TEST(HybridSupportTest, TokenJaccard) {
  EXPECT_DOUBLE_EQ(TokenJaccard({1, 2, 3}, {2, 3, 4}), 0.5);
  EXPECT_DOUBLE_EQ(TokenJaccard({1, 2}, {1, 2}), 1.0);
  EXPECT_DOUBLE_EQ(TokenJaccard({1}, {2}), 0.0);
  EXPECT_DOUBLE_EQ(TokenJaccard({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(TokenJaccard({-5, 1}, {-5}), 0.5);
}

TEST(HybridSupportTest, WeightZeroIsJaccardOneNearestNeighbour) {
  HybridSupportOptions o;
  o.weights = {0.0};
  const auto det = HybridSupportDetector::Fit(Rows({At(0), At(90)}), 2, {{1, 2, 3}, {7, 8}}, {0, 1},
                                              o);
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_DOUBLE_EQ(det->weight(), 0.0);
  const std::vector<float> e = At(0);  // the cosine says normal; only tokens count at w = 0
  EXPECT_DOUBLE_EQ(det->Score(e.data(), {7, 8, 9}), 2.0 / 3.0 - 0.0);
  EXPECT_DOUBLE_EQ(det->Score(e.data(), {1, 2, 8}), 0.25 - 0.5);
}

TEST(HybridSupportTest, LeaveOneOutPicksTheEncoderWhenTokensMislead) {
  // Normal lines near 0 degrees, anomalous near 90; the token sets are shared across classes
  // (each anomalous line shares its tokens with a normal one), so only the cosine separates them.
  const std::vector<float> support = Rows({At(0), At(5), At(10), At(90), At(95), At(100)});
  const std::vector<std::vector<int64_t>> tokens = {{1, 2}, {3, 4}, {5, 6}, {1, 2}, {3, 4}, {5, 6}};
  const auto det = HybridSupportDetector::Fit(support, 2, tokens, {0, 0, 0, 1, 1, 1}, {});
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_GT(det->weight(), 0.5);
  EXPECT_DOUBLE_EQ(det->support_f1_macro(), 1.0);
  const std::vector<float> e = At(92);
  EXPECT_GT(det->Score(e.data(), {1, 2}), 0);
}

TEST(HybridSupportTest, LeaveOneOutPicksTokensWhenTheCosineMisleads) {
  // All embeddings point the same way except that each anomalous line sits nearer a normal one;
  // the tokens separate the classes ({1..} normal, {9..} anomalous).
  const std::vector<float> support = Rows({At(0), At(60), At(120), At(1), At(61), At(121)});
  const std::vector<std::vector<int64_t>> tokens = {{1, 2}, {1, 3}, {1, 4},
                                                    {9, 10}, {9, 11}, {9, 12}};
  const auto det = HybridSupportDetector::Fit(support, 2, tokens, {0, 0, 0, 1, 1, 1}, {});
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_LT(det->weight(), 0.5);
  const std::vector<float> e = At(0);
  EXPECT_GT(det->Score(e.data(), {9, 13}), 0);
}

TEST(HybridSupportTest, OneClassKeepsTheTieWeightAndBadInputFails) {
  const auto one = HybridSupportDetector::Fit(Rows({At(0), At(5)}), 2, {{1}, {2}}, {0, 0}, {});
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_DOUBLE_EQ(one->weight(), 0.5);
  const std::vector<float> e = At(0);
  EXPECT_LT(one->Score(e.data(), {1}), 0);  // no anomalous unit: similarity 0 on that side
  EXPECT_FALSE(HybridSupportDetector::Fit(Rows({At(0)}), 2, {{1}, {2}}, {0, 1}, {}).ok());
  HybridSupportOptions bad;
  bad.weights = {1.5};
  EXPECT_FALSE(HybridSupportDetector::Fit(Rows({At(0)}), 2, {{1}}, {0}, bad).ok());
  bad.weights = {};
  EXPECT_FALSE(bad.Validate().ok());
}

}  // namespace
}  // namespace fedlog::model
