// Line DP's class-sum release (common/privacy/class_sums.h): one line moves the release by at most sqrt(2) in L2
// (its embedding clipped to the unit ball, plus 1 in its class's count), the noise on every value has the stated
// stddev, the ledger step is the Gaussian mechanism at multiplier stddev / sqrt(2), a share of a target epsilon
// gives the noise whose one release spends exactly that share, and the aggregator's count-weighted mean of the
// sites' releases divided by their weights decodes to the pooled class means. The directions form (session 14)
// releases no count: sensitivity 1, count columns exactly 0 through the noise, the decoded prototypes the pooled
// sums' unit directions, and at the same epsilon 1/sqrt(2) of the other form's noise.
#include "common/privacy/class_sums.h"

#include <array>
#include <cmath>
#include <vector>

#include "common/privacy/rdp_accountant.h"
#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

GaussianSampler TestSampler() {
  std::array<uint8_t, 32> key{};
  key[0] = 29;
  return *GaussianSampler::CreateWithKeyForTesting(key);
}

double L2Distance(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return std::sqrt(d);
}

TEST(ClassSumsTest, SumsClippedEmbeddingsPerClassAndCountsThem) {
  // dim 2: a normal line (0.6, 0.8), an anomalous line of norm 5 (clipped to (0.6, -0.8)), an unlabelled one.
  const std::vector<float> z = {0.6f, 0.8f, 3.0f, -4.0f, 9.0f, 9.0f};
  absl::StatusOr<std::vector<float>> r = ClassSums(z, 2, std::vector<int>{0, 1, -1});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<float> want = {0.6f, 0.8f, 1.0f, 0.6f, -0.8f, 1.0f};
  ASSERT_EQ(r->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*r)[i], want[i], 1e-6) << i;
  EXPECT_FALSE(ClassSums(z, 2, std::vector<int>{0, 1}).ok());  // sizes disagree
}

TEST(ClassSumsTest, OneLineMovesTheReleaseByAtMostSqrtTwo) {
  // Neighbouring datasets: the same lines with and without one more, whatever its embedding's norm.
  const std::vector<float> base = {0.1f, 0.2f, -0.3f, 0.9f, 0.0f, 0.1f};
  for (const std::vector<float>& extra :
       {std::vector<float>{100.0f, -50.0f, 7.0f}, std::vector<float>{0.0f, 0.0f, 0.0f},
        std::vector<float>{0.5f, 0.5f, 0.5f}}) {
    for (int label : {0, 1}) {
      std::vector<float> with = base;
      with.insert(with.end(), extra.begin(), extra.end());
      absl::StatusOr<std::vector<float>> a = ClassSums(base, 3, std::vector<int>{0, 1});
      absl::StatusOr<std::vector<float>> b = ClassSums(with, 3, std::vector<int>{0, 1, label});
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_LE(L2Distance(*a, *b), kClassSumSensitivity + 1e-6);
    }
  }
}

TEST(ClassSumsTest, NoiseHasTheStatedStddevOnEveryValue) {
  GaussianSampler sampler = TestSampler();
  constexpr int kReleases = 2000;
  constexpr int kValues = 2 * (128 + 1);
  const double stddev = 2.5;
  std::vector<double> sum(kValues, 0), sum_sq(kValues, 0);
  for (int k = 0; k < kReleases; ++k) {
    std::vector<float> release(kValues, 1.0f);
    ASSERT_TRUE(NoiseClassSums(absl::MakeSpan(release), stddev, sampler).ok());
    for (int i = 0; i < kValues; ++i) {
      sum[i] += release[i] - 1.0;
      sum_sq[i] += (release[i] - 1.0) * (release[i] - 1.0);
    }
  }
  double all = 0;
  for (int i = 0; i < kValues; ++i) {
    const double sd = std::sqrt(sum_sq[i] / kReleases);
    EXPECT_NEAR(sd, stddev, 0.15 * stddev) << "value " << i;  // ~ 9 standard errors of one value's estimate
    all += sum_sq[i];
  }
  EXPECT_NEAR(std::sqrt(all / (kReleases * kValues)), stddev, 0.01 * stddev);  // the count row's value too
  std::vector<float> v(4, 0.0f);
  EXPECT_FALSE(NoiseClassSums(absl::MakeSpan(v), 0.0, sampler).ok());  // no exact release
  EXPECT_FALSE(NoiseClassSums(absl::MakeSpan(v), 0.001, sampler).ok());
}

// Secure aggregation's distributed noise: each of n sites adds N(0, s^2 / t), so the sum of the survivors' shares
// has stddev s * sqrt(survivors / t): exactly s for t survivors, more above t (a dropout that leaves >= t keeps
// at least s), and less than s only below t, which a round refuses.
TEST(ClassSumsTest, SharesOfTSitesSumToTheWholeNoiseWhateverSurvives) {
  GaussianSampler sampler = TestSampler();
  constexpr int kTrials = 4000;
  constexpr int kValues = 2 * (16 + 1);
  const double s = 1.637;
  const int t = 3;
  EXPECT_NEAR(ClassSumShareStddev(s, t), s / std::sqrt(3.0), 1e-12);
  EXPECT_EQ(ClassSumShareStddev(s, 1), s);
  for (int survivors : {3, 4, 5}) {
    double sum_sq = 0;
    for (int k = 0; k < kTrials; ++k) {
      std::vector<float> pooled(kValues, 0.0f);
      for (int site = 0; site < survivors; ++site) {
        std::vector<float> release(kValues, 0.0f);
        ASSERT_TRUE(NoiseClassSums(absl::MakeSpan(release), s, sampler, t).ok());
        for (int i = 0; i < kValues; ++i) pooled[i] += release[i];
      }
      for (float v : pooled) sum_sq += double{v} * v;
    }
    const double sd = std::sqrt(sum_sq / (kTrials * kValues));
    EXPECT_NEAR(sd, s * std::sqrt(survivors / 3.0), 0.02 * s) << survivors << " survivors";
    EXPECT_GE(sd, 0.98 * s);
  }
  // One site's section alone carries only its share: the aggregator must never see it unmasked.
  double one_sq = 0;
  for (int k = 0; k < kTrials; ++k) {
    std::vector<float> release(kValues, 0.0f);
    ASSERT_TRUE(NoiseClassSums(absl::MakeSpan(release), s, sampler, t).ok());
    for (float v : release) one_sq += double{v} * v;
  }
  EXPECT_NEAR(std::sqrt(one_sq / (kTrials * kValues)), s / std::sqrt(3.0), 0.02 * s);
  std::vector<float> v(4, 0.0f);
  EXPECT_FALSE(NoiseClassSums(absl::MakeSpan(v), s, sampler, 0).ok());
}

// The range rule: a site whose released weight w satisfies (R - 1) w >= 10 (count noise + share stddev) keeps
// its scaled release inside [-R, R] for any sums it may hold (at most its n lines, n = w - count noise), unless a
// noise value lies beyond 10 stddevs; below that weight it refuses. Only public numbers decide.
TEST(ClassSumsTest, ReleaseRangeRuleRefusesWeightsThatCannotHoldTheNoiseShare) {
  const double r = 4, count_noise = 100, share = 1.637 / std::sqrt(3.0);
  const double least = MinReleaseWeight(r, count_noise, share);
  EXPECT_NEAR(least, 10 * (count_noise + share) / 3, 1e-9);
  EXPECT_TRUE(CheckReleaseFitsRange(r, static_cast<int64_t>(std::ceil(least)), count_noise, share).ok());
  EXPECT_EQ(CheckReleaseFitsRange(r, static_cast<int64_t>(std::floor(least)), count_noise, share).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckReleaseFitsRange(1.0, 1000000, count_noise, share).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::isinf(MinReleaseWeight(1.0, count_noise, share)));
  // The worst case the rule covers: every one of n lines in one class, the count noise and the share noise both
  // at 10 stddevs against the site. The scaled value is then still within R.
  const double w = std::ceil(least);
  const double n = w + 10 * count_noise;  // w = n + count noise, count noise = -10 stddevs
  EXPECT_LE((n + 10 * share) / w, r + 1e-9);
}

TEST(ClassSumsTest, StepIsTheGaussianMechanismAtStddevOverSensitivity) {
  const MechanismStep step = ClassSumStep(3.0);
  EXPECT_EQ(step.sampling_rate, 1.0);
  EXPECT_EQ(step.steps, 1);
  EXPECT_NEAR(step.noise_multiplier, 3.0 / std::sqrt(2.0), 1e-12);
  // q = 1: RDP a / (2 m^2) at order a.
  absl::StatusOr<double> rdp = SampledGaussianRdp(step.sampling_rate, step.noise_multiplier, 8.0);
  ASSERT_TRUE(rdp.ok());
  EXPECT_NEAR(*rdp, 8.0 / (2 * step.noise_multiplier * step.noise_multiplier), 1e-9);
}

TEST(ClassSumsTest, ShareOfTheTargetGivesTheNoiseThatSpendsIt) {
  for (double target : {1.0, 8.0}) {
    absl::StatusOr<double> s = ClassSumNoiseForShare(target, 0.5, 1, 1e-5);
    ASSERT_TRUE(s.ok()) << s.status();
    auto eps = [&](double stddev) {
      const MechanismStep st = ClassSumStep(stddev);
      return SampledGaussianEpsilon(1.0, st.noise_multiplier, 1, 1e-5, DefaultOrders())->epsilon;
    };
    EXPECT_LE(eps(*s), 0.5 * target);
    EXPECT_GT(eps(*s * 0.99), 0.5 * target);  // the smallest such noise, not any larger one
  }
  // Two releases need more noise for the same share.
  EXPECT_GT(*ClassSumNoiseForShare(1.0, 0.5, 2, 1e-5), *ClassSumNoiseForShare(1.0, 0.5, 1, 1e-5));
  EXPECT_FALSE(ClassSumNoiseForShare(1.0, 0.0, 1, 1e-5).ok());
  EXPECT_FALSE(ClassSumNoiseForShare(1.0, 1.0, 1, 1e-5).ok());
  EXPECT_FALSE(ClassSumNoiseForShare(0.0, 0.5, 1, 1e-5).ok());
}

TEST(ClassSumsTest, WeightedMeanOfScaledReleasesDecodesToThePooledMeans) {
  // Two sites (dim 2): site A has normal lines summing to (2, 0) over 4 lines and anomalous (0, 0.5) over 1;
  // site B normal (1, 1) over 2 and anomalous (0, 1.5) over 2. Weights (their released counts) 300 and 100.
  std::vector<float> a = {2.0f, 0.0f, 4.0f, 0.0f, 0.5f, 1.0f};
  std::vector<float> b = {1.0f, 1.0f, 2.0f, 0.0f, 1.5f, 2.0f};
  ASSERT_TRUE(ScaleToWeight(absl::MakeSpan(a), 300).ok());
  ASSERT_TRUE(ScaleToWeight(absl::MakeSpan(b), 100).ok());
  std::vector<float> mean(6);
  for (size_t i = 0; i < mean.size(); ++i) mean[i] = (300 * a[i] + 100 * b[i]) / 400;  // the aggregator's
  const std::vector<float> p = PrototypesFromRelease(mean, 2);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_NEAR(p[0], 3.0 / 6, 1e-6);  // normal: (3, 1) / 6
  EXPECT_NEAR(p[1], 1.0 / 6, 1e-6);
  EXPECT_NEAR(p[2], 0.0, 1e-6);      // anomalous: (0, 2) / 3
  EXPECT_NEAR(p[3], 2.0 / 3, 1e-6);
  EXPECT_FALSE(ScaleToWeight(absl::MakeSpan(a), 0).ok());
}

TEST(ClassSumsTest, DecodedPrototypesStayInTheUnitBallAndNeedPositiveCounts) {
  // Noise can leave a small count: the mean would leave the unit ball, where no mean of unit vectors lies.
  const std::vector<float> p = PrototypesFromRelease(std::vector<float>{3.0f, 4.0f, 1.0f, 0.3f, 0.0f, 1.0f}, 2);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_NEAR(p[0], 0.6, 1e-6);
  EXPECT_NEAR(p[1], 0.8, 1e-6);
  EXPECT_NEAR(p[2], 0.3, 1e-6);
  EXPECT_TRUE(PrototypesFromRelease(std::vector<float>{1.0f, 0.0f, -0.5f, 0.0f, 1.0f, 2.0f}, 2).empty());
  EXPECT_TRUE(PrototypesFromRelease(std::vector<float>{1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f}, 2).empty());
  EXPECT_TRUE(PrototypesFromRelease(std::vector<float>{1.0f, 0.0f, 1.0f}, 2).empty());
}

TEST(ClassSumsTest, DirectionsReleaseHasNoCountAndOneLineMovesItByAtMostOne) {
  const std::vector<float> z = {0.6f, 0.8f, 3.0f, -4.0f};
  absl::StatusOr<std::vector<float>> r = ClassSums(z, 2, std::vector<int>{0, 1}, ClassSumForm::kDirections);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<float> want = {0.6f, 0.8f, 0.0f, 0.6f, -0.8f, 0.0f};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*r)[i], want[i], 1e-6) << i;
  const std::vector<float> base = {0.1f, 0.2f, -0.3f, 0.9f, 0.0f, 0.1f};
  for (const std::vector<float>& extra :
       {std::vector<float>{100.0f, -50.0f, 7.0f}, std::vector<float>{0.5f, 0.5f, 0.5f}}) {
    for (int label : {0, 1}) {
      std::vector<float> with = base;
      with.insert(with.end(), extra.begin(), extra.end());
      absl::StatusOr<std::vector<float>> a = ClassSums(base, 3, std::vector<int>{0, 1}, ClassSumForm::kDirections);
      absl::StatusOr<std::vector<float>> b =
          ClassSums(with, 3, std::vector<int>{0, 1, label}, ClassSumForm::kDirections);
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_LE(L2Distance(*a, *b), 1.0 + 1e-6);
    }
  }
  EXPECT_DOUBLE_EQ(ClassSumSensitivity(ClassSumForm::kDirections), 1.0);
  EXPECT_DOUBLE_EQ(ClassSumSensitivity(ClassSumForm::kSumsAndCounts), kClassSumSensitivity);
}

TEST(ClassSumsTest, DirectionsNoiseLeavesTheCountColumnsExactlyZero) {
  GaussianSampler sampler = TestSampler();
  constexpr int kDim = 16;
  std::vector<float> release(2 * (kDim + 1), 0.0f);
  ASSERT_TRUE(NoiseClassSums(absl::MakeSpan(release), 3.0, sampler, 3, ClassSumForm::kDirections, kDim).ok());
  EXPECT_EQ(release[kDim], 0.0f);
  EXPECT_EQ(release[2 * kDim + 1], 0.0f);
  int noised = 0;
  for (int i = 0; i < kDim; ++i) noised += (release[i] != 0.0f) + (release[kDim + 1 + i] != 0.0f);
  EXPECT_EQ(noised, 2 * kDim);  // every sum value got its share
  // The row size must be stated and divide the release.
  EXPECT_FALSE(NoiseClassSums(absl::MakeSpan(release), 3.0, sampler, 1, ClassSumForm::kDirections, 0).ok());
  EXPECT_FALSE(NoiseClassSums(absl::MakeSpan(release), 3.0, sampler, 1, ClassSumForm::kDirections, 5).ok());
}

TEST(ClassSumsTest, DirectionsSpendTheShareWithOneOverSqrtTwoOfTheNoise) {
  EXPECT_DOUBLE_EQ(ClassSumStep(3.0, ClassSumForm::kDirections).noise_multiplier, 3.0);
  for (double target : {1.0, 8.0}) {
    const double counts = *ClassSumNoiseForShare(target, 0.5, 1, 1e-5);
    absl::StatusOr<double> directions = ClassSumNoiseForShare(target, 0.5, 1, 1e-5, ClassSumForm::kDirections);
    ASSERT_TRUE(directions.ok()) << directions.status();
    EXPECT_NEAR(*directions, counts / std::sqrt(2.0), 2e-3 * counts);  // the same multiplier, bisection's 1e-3
    const MechanismStep st = ClassSumStep(*directions, ClassSumForm::kDirections);
    EXPECT_LE(SampledGaussianEpsilon(1.0, st.noise_multiplier, 1, 1e-5, DefaultOrders())->epsilon, 0.5 * target);
  }
}

TEST(ClassSumsTest, ZeroCountColumnsDecodeToThePooledSumsDirections) {
  // Noised sums (3, 4) and (0, -0.5) with both count columns 0: the directions (0.6, 0.8) and (0, -1).
  const std::vector<float> p = PrototypesFromRelease(std::vector<float>{3.0f, 4.0f, 0.0f, 0.0f, -0.5f, 0.0f}, 2);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_NEAR(p[0], 0.6, 1e-6);
  EXPECT_NEAR(p[1], 0.8, 1e-6);
  EXPECT_NEAR(p[2], 0.0, 1e-6);
  EXPECT_NEAR(p[3], -1.0, 1e-6);
  // A zero sum has no direction.
  EXPECT_TRUE(PrototypesFromRelease(std::vector<float>{0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f}, 2).empty());
  // One zero count is the counts form (a non-positive count): no prototype, as before.
  EXPECT_TRUE(PrototypesFromRelease(std::vector<float>{3.0f, 4.0f, 0.0f, 0.0f, -0.5f, 2.0f}, 2).empty());
}

}  // namespace
}  // namespace fedlog::privacy
