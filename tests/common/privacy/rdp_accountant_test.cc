#include "common/privacy/rdp_accountant.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

// Opacus' default orders: 1.1, 1.2, ..., 10.9, then 12..63.
std::vector<double> OrdersA() {
  std::vector<double> o;
  for (int k = 11; k <= 109; ++k) o.push_back(k / 10.0);
  for (int a = 12; a <= 63; ++a) o.push_back(a);
  return o;
}

// TensorFlow Privacy's orders: 1.25 .. 4.5, then 5..63, 128, 256, 512.
std::vector<double> OrdersB() {
  std::vector<double> o = {1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5};
  for (int a = 5; a <= 63; ++a) o.push_back(a);
  for (double a : {128.0, 256.0, 512.0}) o.push_back(a);
  return o;
}

void ExpectRelNear(double got, double want, double rel) { EXPECT_LE(std::fabs(got - want) / want, rel) << got; }

struct Published {
  const char* name;
  double q, sigma;
  int64_t steps;
  double delta;
  bool orders_a;
  double epsilon, order;
};

class PublishedValueTest : public testing::TestWithParam<Published> {};

TEST_P(PublishedValueTest, MatchesWithinOnePpm) {
  const Published& p = GetParam();
  auto e = SampledGaussianEpsilon(p.q, p.sigma, p.steps, p.delta, p.orders_a ? OrdersA() : OrdersB());
  ASSERT_TRUE(e.ok()) << e.status();
  ExpectRelNear(e->epsilon, p.epsilon, 1e-6);
  EXPECT_EQ(e->order, p.order);
}

INSTANTIATE_TEST_SUITE_P(
    Accountant, PublishedValueTest,
    testing::Values(Published{"opacus_fractional", 0.04, 1.5, 2250, 1e-5, true, 7.329111, 3.9},
                    Published{"tfp_order19", 0.0025, 1.3, 6000, 1e-5, false, 0.7242234, 19},
                    Published{"tfp_order13", 0.001, 1.0, 30000, 1e-7, false, 1.4154988, 13}),
    [](const testing::TestParamInfo<Published>& i) { return std::string(i.param.name); });

TEST(RdpToEpsilonTest, ConversionAloneMatchesPublishedValue) {
  std::vector<double> orders, rdp;
  for (int a = 2; a <= 32; ++a) {
    orders.push_back(a);
    rdp.push_back(1.1);
  }
  auto e = RdpToEpsilon(orders, rdp, 1e-5);
  ASSERT_TRUE(e.ok());
  ExpectRelNear(e->epsilon, 1.3278381, 1e-6);
  EXPECT_EQ(e->order, 32);
}

TEST(RdpTest, DefaultOrdersGiveTheSamePublishedValues) {
  auto e = SampledGaussianEpsilon(0.0025, 1.3, 6000, 1e-5, DefaultOrders());
  ASSERT_TRUE(e.ok());
  ExpectRelNear(e->epsilon, 0.7242234, 1e-6);
  auto f = SampledGaussianEpsilon(0.04, 1.5, 2250, 1e-5, DefaultOrders());
  ASSERT_TRUE(f.ok());
  ExpectRelNear(f->epsilon, 7.329111, 1e-6);
  auto g = SampledGaussianEpsilon(0.001, 1.0, 30000, 1e-7, DefaultOrders());
  ASSERT_TRUE(g.ok());
  ExpectRelNear(g->epsilon, 1.4154988, 1e-6);
  EXPECT_EQ(DefaultOrders().front(), 1.1);
  EXPECT_EQ(DefaultOrders().back(), 1024);
  EXPECT_EQ(DefaultOrders().size(), 99u + 53u + 4u);
}

TEST(RdpTest, FullBatchIsThePlainGaussianMechanism) {
  // q = 1: RDP(a) = a / (2 sigma^2) exactly.
  auto r = SampledGaussianRdp(1.0, 2.0, 3.5);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 3.5 / 8.0);
}

TEST(RdpTest, FractionalSeriesAgreesWithIntegerExpansionAtIntegers) {
  // Approach an integer order from both sides: the series must be continuous with the exact sum.
  for (double q : {0.01, 0.1, 0.5}) {
    for (double sigma : {0.3, 0.8, 1.5, 4.0}) {  // 0.3 reaches the asymptotic log-erfc
      for (int a : {2, 5, 12}) {
        auto exact = SampledGaussianRdp(q, sigma, static_cast<double>(a));
        auto below = SampledGaussianRdp(q, sigma, a - 1e-7);
        auto above = SampledGaussianRdp(q, sigma, a + 1e-7);
        ASSERT_TRUE(exact.ok() && below.ok() && above.ok());
        EXPECT_NEAR(*below, *exact, 1e-6 * (*exact) + 1e-12) << q << " " << sigma << " " << a;
        EXPECT_NEAR(*above, *exact, 1e-6 * (*exact) + 1e-12) << q << " " << sigma << " " << a;
        EXPECT_LE(*below, *above);  // RDP is non-decreasing in the order
      }
    }
  }
}

TEST(RdpTest, EdgeCasesAndBadInput) {
  EXPECT_EQ(*SampledGaussianRdp(0.0, 1.0, 2.0), 0.0);
  EXPECT_TRUE(std::isinf(*SampledGaussianRdp(0.1, 0.0, 2.0)));
  EXPECT_FALSE(SampledGaussianRdp(1.5, 1.0, 2.0).ok());
  EXPECT_FALSE(SampledGaussianRdp(0.1, -1.0, 2.0).ok());
  EXPECT_FALSE(SampledGaussianRdp(0.1, 1.0, 1.0).ok());
  EXPECT_FALSE(SampledGaussianRdp(0.1, 1.0, std::nan("")).ok());
  EXPECT_FALSE(RdpToEpsilon({2.0}, {1.0}, 0.0).ok());
  EXPECT_FALSE(RdpToEpsilon({2.0, 3.0}, {1.0}, 1e-5).ok());
  // Zero spend is zero epsilon, never negative.
  auto z = RdpToEpsilon({2.0, 8.0}, {0.0, 0.0}, 1e-5);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->epsilon, 0.0);
}

TEST(RdpTest, MoreStepsOrLessNoiseNeverCostLess) {
  const auto orders = DefaultOrders();
  double last = 0;
  for (int64_t steps : {1, 10, 100, 1000}) {
    auto e = SampledGaussianEpsilon(0.05, 1.1, steps, 1e-5, orders);
    ASSERT_TRUE(e.ok());
    EXPECT_GT(e->epsilon, last);
    last = e->epsilon;
  }
  auto more_noise = SampledGaussianEpsilon(0.05, 2.0, 1000, 1e-5, orders);
  ASSERT_TRUE(more_noise.ok());
  EXPECT_LT(more_noise->epsilon, last);
}

}  // namespace
}  // namespace fedlog::privacy
