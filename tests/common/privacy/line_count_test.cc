// The noised line count of line-level DP (common/privacy/line_count.h): the released count is the true count plus
// Gaussian noise of the stated stddev, rounded and clamped to [1, cap], and its ledger step is the Gaussian
// mechanism at q = 1 whose epsilon the site's ledger adds to its DP-SGD phases.
#include "common/privacy/line_count.h"

#include <array>
#include <cmath>

#include "common/privacy/ledger.h"
#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

GaussianSampler TestSampler() {
  std::array<uint8_t, 32> key{};
  key[0] = 13;
  return *GaussianSampler::CreateWithKeyForTesting(key);
}

TEST(LineCountTest, ReleasedCountIsTheCountPlusNoiseOfTheStatedStddev) {
  GaussianSampler sampler = TestSampler();
  constexpr int kDraws = 4000;
  double sum = 0, sum_sq = 0;
  int exact = 0;
  for (int i = 0; i < kDraws; ++i) {
    absl::StatusOr<int64_t> c = NoisedLineCount(100000, 100, int64_t{1} << 40, sampler);
    ASSERT_TRUE(c.ok()) << c.status();
    const double e = static_cast<double>(*c - 100000);
    sum += e;
    sum_sq += e * e;
    exact += *c == 100000 ? 1 : 0;
  }
  const double mean = sum / kDraws, sd = std::sqrt(sum_sq / kDraws - mean * mean);
  EXPECT_NEAR(mean, 0, 8);    // 5 standard errors of the mean (100 / sqrt(4000) = 1.6)
  EXPECT_NEAR(sd, 100, 6);    // the stated stddev (rounding adds 1/12 to the variance)
  EXPECT_LT(exact, kDraws / 100);  // P(exact) ~ 1 / (100 sqrt(2 pi)) = 0.4%
}

TEST(LineCountTest, ClampedToOneAndTheCapAndRefusedOutOfRange) {
  GaussianSampler sampler = TestSampler();
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<int64_t> low = NoisedLineCount(0, 1e6, 1000, sampler);
    ASSERT_TRUE(low.ok());
    EXPECT_GE(*low, 1);
    EXPECT_LE(*low, 1000);
  }
  EXPECT_FALSE(NoisedLineCount(-1, 100, 1000, sampler).ok());
  EXPECT_FALSE(NoisedLineCount(10, 0.5, 1000, sampler).ok());  // below kMinLineCountNoise: nearly exact
  EXPECT_FALSE(NoisedLineCount(10, 2e6, 1000, sampler).ok());
  EXPECT_FALSE(NoisedLineCount(10, NAN, 1000, sampler).ok());
}

TEST(LineCountTest, TheCountsStepAddsToTheSameLedgerAsDpSgd) {
  // A DP-SGD phase alone, then the same phase plus ten count releases at the default noise: the second epsilon is
  // larger, and by little (RDP a / (2 * 100^2) per release).
  MechanismStep sgd;
  sgd.sampling_rate = 0.01;
  sgd.noise_multiplier = 1.0;
  sgd.steps = 1000;
  auto alone = PrivacyLedger::Create({});
  auto with_count = PrivacyLedger::Create({});
  ASSERT_TRUE(alone.ok() && with_count.ok());
  int64_t seq = 0;
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(alone->Charge(++seq, sgd).ok());
    ASSERT_TRUE(with_count->Charge(seq, sgd).ok());
    ASSERT_TRUE(with_count->Charge(++seq, LineCountStep(kDefaultLineCountNoise)).ok());
    ++seq;
  }
  const MechanismStep step = LineCountStep(50);
  EXPECT_DOUBLE_EQ(step.sampling_rate, 1.0);
  EXPECT_DOUBLE_EQ(step.noise_multiplier, 50);  // sensitivity 1
  EXPECT_EQ(step.steps, 1);
  EXPECT_GT(with_count->epsilon(), alone->epsilon());
  EXPECT_LT(with_count->epsilon(), alone->epsilon() * 1.1) << alone->epsilon() << " " << with_count->epsilon();
}

}  // namespace
}  // namespace fedlog::privacy
