#include <cmath>
#include <random>
#include <vector>

#include "common/features/feature_selection.h"
#include "common/features/scaler.h"
#include "gtest/gtest.h"

namespace fedlog::features {
namespace {

TEST(StandardScalerTest, FitsOnTrainingRowsOnly) {
  DenseMatrix x(4, 1);
  x.data = {1, 3, 100, 200};  // rows 2 and 3 are "test" rows with a very different scale
  auto s = StandardScaler::Fit(x, std::vector<size_t>{0, 1});
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->mean()[0], 2.0);
  EXPECT_DOUBLE_EQ(s->std()[0], 1.0);
  ASSERT_TRUE(s->Transform(&x).ok());
  EXPECT_FLOAT_EQ(x.data[0], -1.0f);
  EXPECT_FLOAT_EQ(x.data[1], 1.0f);
  EXPECT_FLOAT_EQ(x.data[2], 98.0f);  // test rows use the training statistics
}

TEST(StandardScalerTest, ConstantColumnAndErrors) {
  DenseMatrix x(3, 2);
  x.data = {5, 1, 5, 2, 5, 3};
  auto s = StandardScaler::Fit(x);
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->std()[0], 1.0);
  ASSERT_TRUE(s->Transform(&x).ok());
  EXPECT_FLOAT_EQ(x.data[0], 0.0f);
  DenseMatrix wrong(1, 3);
  EXPECT_FALSE(s->Transform(&wrong).ok());
  EXPECT_FALSE(StandardScaler::Fit(DenseMatrix()).ok());
  EXPECT_FALSE(StandardScaler::Fit(x, std::vector<size_t>{7}).ok());
  x.data[0] = NAN;
  EXPECT_FALSE(StandardScaler::Fit(x).ok());
}

// Column 0 is noise, column 1 equals the label with 10% flips, column 2 is noise.
void MakeData(DenseMatrix* x, std::vector<int>* y) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> noise(0, 1);
  std::bernoulli_distribution flip(0.1), label(0.3);
  *x = DenseMatrix(2000, 3);
  y->resize(2000);
  for (int i = 0; i < 2000; ++i) {
    (*y)[i] = label(rng);
    x->Row(i)[0] = noise(rng);
    x->Row(i)[1] = static_cast<float>((*y)[i] ^ flip(rng)) + 0.1f * noise(rng);
    x->Row(i)[2] = noise(rng);
  }
}

TEST(FeatureSelectionTest, InformativeFeatureOutranksNoise) {
  DenseMatrix x;
  std::vector<int> y;
  MakeData(&x, &y);
  auto mi = MutualInformation(x, y);
  ASSERT_TRUE(mi.ok());
  EXPECT_GT((*mi)[1], 10 * (*mi)[0]);
  EXPECT_GT((*mi)[1], 10 * (*mi)[2]);
  auto r = RankFeatures(x, y, {}, {.k = 1});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->selected.size(), 1u);
  EXPECT_EQ(r->selected[0], 1);
}

TEST(FeatureSelectionTest, TreeImportanceIsBlendedIn) {
  DenseMatrix x;
  std::vector<int> y;
  MakeData(&x, &y);
  // A tree model that (wrongly) credits column 2 alone wins when it gets all the weight, not at
  // 0.4.
  const std::vector<double> tree = {0, 0, 5};
  auto blended = RankFeatures(x, y, tree, {.k = 3});
  ASSERT_TRUE(blended.ok());
  EXPECT_EQ(blended->selected[0], 1);
  auto tree_only = RankFeatures(x, y, tree, {.k = 3, .mi_weight = 0, .tree_weight = 1});
  ASSERT_TRUE(tree_only.ok());
  EXPECT_EQ(tree_only->selected[0], 2);
  DenseMatrix picked = SelectColumns(x, blended->selected);
  EXPECT_EQ(picked.cols, 3);
  EXPECT_EQ(picked.Row(5)[0], x.Row(5)[1]);
}

TEST(FeatureSelectionTest, RejectsBadInput) {
  DenseMatrix x(2, 2);
  EXPECT_FALSE(MutualInformation(x, std::vector<int>{0}).ok());
  EXPECT_FALSE(MutualInformation(x, std::vector<int>{0, 2}).ok());
  EXPECT_FALSE(RankFeatures(x, std::vector<int>{0, 1}, std::vector<double>{1}, {}).ok());
  EXPECT_FALSE(RankFeatures(x, std::vector<int>{0, 1}, std::vector<double>{1, -1}, {}).ok());
  EXPECT_FALSE(RankFeatures(x, std::vector<int>{0, 1}, {}, {.k = 0}).ok());
}

}  // namespace
}  // namespace fedlog::features
