#include "common/classic/logistic_regression.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::classic {
namespace {

// Two Gaussian blobs separated along x0 + x1; x2 is noise on a large scale (tests internal
// standardisation).
void Blobs(int n, uint64_t seed, DenseMatrix* x, std::vector<int>* y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 0.5f);
  *x = DenseMatrix(n, 3);
  y->resize(n);
  for (int i = 0; i < n; ++i) {
    const int c = i % 2;
    (*y)[i] = c;
    x->Row(i)[0] = (c ? 2.0f : -2.0f) + g(rng);
    x->Row(i)[1] = (c ? 2.0f : -2.0f) + g(rng);
    x->Row(i)[2] = 1000.0f * g(rng);
  }
}

TEST(LogisticRegressionTest, SeparatesToyData) {
  DenseMatrix x;
  std::vector<int> y;
  Blobs(400, 1, &x, &y);
  LogisticRegression lr;
  ASSERT_TRUE(lr.Fit(x, y, {}).ok());
  DenseMatrix test;
  std::vector<int> ty;
  Blobs(200, 2, &test, &ty);
  auto s = lr.Score(test);
  ASSERT_TRUE(s.ok());
  int correct = 0;
  for (size_t i = 0; i < ty.size(); ++i) correct += ((*s)[i] >= 0.5) == (ty[i] == 1);
  EXPECT_EQ(correct, 200);
  EXPECT_GT(lr.coefficients()[0], 0);
  EXPECT_GT(lr.coefficients()[1], 0);
  EXPECT_LT(std::abs(lr.coefficients()[2]), 0.25 * lr.coefficients()[0]);
  EXPECT_LT(lr.final_loss(), 0.1);
}

TEST(LogisticRegressionTest, WeightsShiftTheDecision) {
  // One feature, overlapping classes: up-weighting class 1 raises its scores.
  DenseMatrix x(4, 1);
  x.data = {0, 1, 1, 2};
  const std::vector<int> y = {0, 0, 1, 1};
  LogisticRegression plain, weighted;
  ASSERT_TRUE(plain.Fit(x, y, {}).ok());
  ASSERT_TRUE(weighted.Fit(x, y, std::vector<float>{1, 1, 5, 5}).ok());
  EXPECT_GT((*weighted.Score(x))[1], (*plain.Score(x))[1]);
}

TEST(LogisticRegressionTest, RejectsBadInput) {
  LogisticRegression lr;
  DenseMatrix x(2, 1);
  EXPECT_FALSE(lr.Score(x).ok());                            // before Fit
  EXPECT_FALSE(lr.Fit(x, std::vector<int>{1, 1}, {}).ok());  // one class
  EXPECT_FALSE(lr.Fit(x, std::vector<int>{0, 3}, {}).ok());  // bad label
  EXPECT_FALSE(lr.Fit(x, std::vector<int>{0}, {}).ok());     // size mismatch
  EXPECT_FALSE(lr.Fit(x, std::vector<int>{0, 1}, std::vector<float>{1, -1}).ok());
  ASSERT_TRUE(lr.Fit(x, std::vector<int>{0, 1}, {}).ok());
  EXPECT_FALSE(lr.Score(DenseMatrix(1, 2)).ok());
}

}  // namespace
}  // namespace fedlog::classic
