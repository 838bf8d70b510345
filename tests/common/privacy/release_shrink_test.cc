// The release's shrinkage weight (common/privacy/release_shrink.h): the pooled noise energy is the stated public
// arithmetic, the weight is 1 for an exact release (no noise energy: today's prototypes bit for bit) and about 0
// when the noise dominates the pooled sum, and a real noised release through ClassSums / NoiseClassSums /
// ScaleToWeight decodes to a direction scaled by a weight near the signal's share of its squared norm.
#include "common/privacy/release_shrink.h"

#include <array>
#include <cmath>
#include <vector>

#include "common/privacy/class_sums.h"
#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

GaussianSampler TestSampler(uint8_t seed) {
  std::array<uint8_t, 32> key{};
  key[0] = seed;
  return *GaussianSampler::CreateWithKeyForTesting(key);
}

TEST(ReleaseShrinkTest, NoiseEnergyIsThePooledSharesOverTheSquaredWeight) {
  // 5 contributors, each N(0, 2^2 / 3) on each of 8 values, divided by a pooled weight 10: 5 * 8 * 4/3 / 100.
  absl::StatusOr<double> e = PooledReleaseNoiseEnergy(2.0, 3, 5, 8, 10.0);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_NEAR(*e, 5.0 * 8.0 * 4.0 / 3.0 / 100.0, 1e-12);
  EXPECT_FALSE(PooledReleaseNoiseEnergy(0.0, 3, 5, 8, 10.0).ok());
  EXPECT_FALSE(PooledReleaseNoiseEnergy(2.0, 0, 5, 8, 10.0).ok());
  EXPECT_FALSE(PooledReleaseNoiseEnergy(2.0, 3, 0, 8, 10.0).ok());
  EXPECT_FALSE(PooledReleaseNoiseEnergy(2.0, 3, 5, 0, 10.0).ok());
  EXPECT_FALSE(PooledReleaseNoiseEnergy(2.0, 3, 5, 8, 0.5).ok());
  EXPECT_FALSE(PooledReleaseNoiseEnergy(2.0, 3, 5, 8, std::nan("")).ok());
}

TEST(ReleaseShrinkTest, WeightIsOneWithoutNoiseAndZeroWhenNoiseDominates) {
  const std::vector<float> row = {3.0f, 4.0f};  // |row|^2 = 25
  EXPECT_EQ(ReleaseShrinkWeight(row, 0.0), 1.0);
  EXPECT_NEAR(ReleaseShrinkWeight(row, 5.0), 0.8, 1e-12);
  EXPECT_EQ(ReleaseShrinkWeight(row, 25.0), 0.0);
  EXPECT_EQ(ReleaseShrinkWeight(row, 100.0), 0.0);
  EXPECT_EQ(ReleaseShrinkWeight(std::vector<float>{0.0f, 0.0f}, 1.0), 0.0);
}

TEST(ReleaseShrinkTest, ExactReleaseDecodesAsTodayBitForBit) {
  // Directions form, dim 2: the count columns exactly 0.
  const std::vector<float> release = {3.0f, 4.0f, 0.0f, 0.3f, -0.4f, 0.0f};
  const std::vector<float> today = PrototypesFromRelease(release, 2);
  const std::vector<float> shrunk = ShrunkPrototypesFromRelease(release, 2, 0.0);
  ASSERT_EQ(today.size(), 4u);
  EXPECT_EQ(shrunk, today);
  // Sums and counts are not shrunk whatever the noise energy.
  const std::vector<float> counted = {3.0f, 4.0f, 10.0f, 0.3f, -0.4f, 2.0f};
  EXPECT_EQ(ShrunkPrototypesFromRelease(counted, 2, 1e6), PrototypesFromRelease(counted, 2));
  EXPECT_TRUE(ShrunkPrototypesFromRelease(release, 2, -1.0).empty());
  EXPECT_TRUE(ShrunkPrototypesFromRelease(release, 2, std::nan("")).empty());
}

TEST(ReleaseShrinkTest, EachRowKeepsItsDirectionScaledByItsOwnWeight) {
  const std::vector<float> release = {30.0f, 40.0f, 0.0f, 0.3f, -0.4f, 0.0f};  // |rows|^2 2500 and 0.25
  const std::vector<float> p = ShrunkPrototypesFromRelease(release, 2, 0.2);
  ASSERT_EQ(p.size(), 4u);
  const double w0 = 1.0 - 0.2 / 2500.0, w1 = 1.0 - 0.2 / 0.25;
  EXPECT_NEAR(p[0], w0 * 0.6, 1e-6);
  EXPECT_NEAR(p[1], w0 * 0.8, 1e-6);
  EXPECT_NEAR(p[2], w1 * 0.6, 1e-6);
  EXPECT_NEAR(p[3], w1 * -0.8, 1e-6);
}

// A release pooled from sites as the daemons send it: the anomalous row's weight tracks the signal's share of its
// squared norm, near 1 when the sum dominates the noise and 0 when the noise dominates.
TEST(ReleaseShrinkTest, PooledNoisedReleaseGetsTheSignalShare) {
  constexpr int64_t kDim = 64;
  constexpr int kSites = 4, kShares = 3;
  const int64_t weights[kSites] = {900, 1100, 1000, 1000};
  for (const double s : {0.05, 50.0}) {
    GaussianSampler sampler = TestSampler(static_cast<uint8_t>(s > 1 ? 7 : 8));
    std::vector<float> pooled(2 * (kDim + 1), 0.0f);
    for (int site = 0; site < kSites; ++site) {
      // 5 anomalous lines along the first axis and 5 normal ones along the second at every site.
      std::vector<float> z(10 * kDim, 0.0f);
      std::vector<int> labels;
      for (int i = 0; i < 10; ++i) {
        z[i * kDim + (i < 5 ? 0 : 1)] = 1.0f;
        labels.push_back(i < 5 ? 1 : 0);
      }
      absl::StatusOr<std::vector<float>> r = ClassSums(z, kDim, labels, ClassSumForm::kDirections);
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE(NoiseClassSums(absl::MakeSpan(*r), s, sampler, kShares, ClassSumForm::kDirections, kDim).ok());
      ASSERT_TRUE(ScaleToWeight(absl::MakeSpan(*r), weights[site]).ok());
      for (size_t j = 0; j < r->size(); ++j) pooled[j] += static_cast<float>(weights[site]) * (*r)[j] / 4000.0f;
    }
    absl::StatusOr<double> energy = PooledReleaseNoiseEnergy(s, kShares, kSites, kDim, 4000.0);
    ASSERT_TRUE(energy.ok());
    const std::vector<float> p = ShrunkPrototypesFromRelease(pooled, kDim, *energy);
    ASSERT_EQ(p.size(), static_cast<size_t>(2 * kDim));
    double norm = 0;
    for (int64_t j = 0; j < kDim; ++j) norm += double{p[kDim + j]} * p[kDim + j];
    // Pooled anomalous sum 20 along axis 0 (|sum|^2 400); noise energy 4 * 64 * s^2 / 3 in the sums' units:
    // 0.21 (w ~ 1) or 2.1e5 (w ~ 0: only the chi-square spread of |noise|^2 over 64 values, ~18%, is left).
    if (s < 1) {
      EXPECT_NEAR(std::sqrt(norm), 1.0, 0.01);
      EXPECT_GT(p[kDim], 0.99f);
    } else {
      EXPECT_LT(std::sqrt(norm), 0.4);
    }
  }
}

}  // namespace
}  // namespace fedlog::privacy
