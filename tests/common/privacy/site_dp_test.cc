#include "common/privacy/site_dp.h"

#include <cmath>
#include <vector>

#include "common/privacy/gaussian_noise.h"
#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

GaussianSampler Seeded(uint8_t b) {
  std::array<uint8_t, 32> key;
  key.fill(b);
  return *GaussianSampler::CreateWithKeyForTesting(key);
}

struct Moments {
  double mean = 0, var = 0, kurtosis = 0, within_1sd = 0;
};

Moments Measure(const std::vector<double>& x) {
  Moments m;
  const double n = static_cast<double>(x.size());
  for (double v : x) m.mean += v;
  m.mean /= n;
  double m2 = 0, m4 = 0;
  for (double v : x) {
    const double d = v - m.mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m.var = m2 / n;
  m.kurtosis = (m4 / n) / (m.var * m.var);
  const double sd = std::sqrt(m.var);
  for (double v : x) m.within_1sd += std::fabs(v - m.mean) <= sd ? 1 : 0;
  m.within_1sd /= n;
  return m;
}

TEST(GaussianSamplerTest, StandardNormalMoments) {
  GaussianSampler g = Seeded(7);
  const int n = 400000;
  std::vector<double> x(n);
  for (double& v : x) v = g.Next();
  Moments m = Measure(x);
  // Standard errors at n = 4e5: mean 0.0016, variance 0.0022, kurtosis ~0.008; tolerances are ~4-5 of them.
  EXPECT_NEAR(m.mean, 0.0, 0.008);
  EXPECT_NEAR(m.var, 1.0, 0.01);
  EXPECT_NEAR(m.kurtosis, 3.0, 0.04);
  EXPECT_NEAR(m.within_1sd, 0.682689, 0.004);
}

TEST(GaussianSamplerTest, KeyedFromRandBytesDiffersEachTime) {
  auto a = GaussianSampler::Create();
  auto b = GaussianSampler::Create();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->NextUint64(), b->NextUint64());
  // Same test key: same stream (reproducible experiments).
  GaussianSampler c = Seeded(1), d = Seeded(1);
  EXPECT_EQ(c.Next(), d.Next());
}

TEST(SiteDpTest, ClipBoundsTheNormAndLeavesSmallUpdatesAlone) {
  std::vector<float> v = {3, 4};  // norm 5
  auto r = ClipL2(absl::MakeSpan(v), 1.0);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->norm, 5.0);
  EXPECT_NEAR(std::hypot(v[0], v[1]), 1.0, 1e-6);
  EXPECT_NEAR(v[0] / v[1], 0.75, 1e-6);  // direction kept
  std::vector<float> small = {0.3f, 0.4f};
  ASSERT_TRUE(ClipL2(absl::MakeSpan(small), 1.0).ok());
  EXPECT_EQ(small[0], 0.3f);
  std::vector<float> bad = {1, std::nanf("")};
  EXPECT_FALSE(ClipL2(absl::MakeSpan(bad), 1.0).ok());
  EXPECT_FALSE(ClipL2(absl::MakeSpan(small), 0.0).ok());
}

TEST(SiteDpTest, SumOfMinSitesSharesHasStddevSigmaTimesClip) {
  SiteDpOptions o;
  o.clip = 0.5;
  o.noise_multiplier = 1.2;
  o.min_sites = 4;
  EXPECT_DOUBLE_EQ(NoiseShareStddev(o), 1.2 * 0.5 / 2.0);
  GaussianSampler g = Seeded(3);
  const int d = 50000;
  std::vector<double> sum(d, 0.0);
  for (int site = 0; site < o.min_sites; ++site) {
    std::vector<float> update(d, 0.0f);
    update[0] = 10.0f;  // clipped to 0.5
    auto r = ClipAndAddNoiseShare(absl::MakeSpan(update), o, g);
    ASSERT_TRUE(r.ok());
    EXPECT_DOUBLE_EQ(r->norm, 10.0);
    for (int i = 0; i < d; ++i) sum[i] += update[i];
  }
  std::vector<double> noise(sum.begin() + 1, sum.end());  // coordinate 0 carries the clipped signal
  Moments m = Measure(noise);
  const double want_sd = o.noise_multiplier * o.clip;  // 0.6
  EXPECT_NEAR(m.mean, 0.0, 5 * want_sd / std::sqrt(d));
  EXPECT_NEAR(std::sqrt(m.var), want_sd, 0.02 * want_sd);
  EXPECT_NEAR(m.kurtosis, 3.0, 0.12);
  // The clipped signal survives in expectation: 4 sites x 0.5.
  EXPECT_NEAR(sum[0], 2.0, 5 * want_sd);
}

TEST(SiteDpTest, BadOptionsRefused) {
  GaussianSampler g = Seeded(4);
  std::vector<float> v = {1};
  SiteDpOptions o;
  o.min_sites = 0;
  EXPECT_FALSE(ClipAndAddNoiseShare(absl::MakeSpan(v), o, g).ok());
  o = {};
  o.noise_multiplier = -1;
  EXPECT_FALSE(ClipAndAddNoiseShare(absl::MakeSpan(v), o, g).ok());
}

}  // namespace
}  // namespace fedlog::privacy
