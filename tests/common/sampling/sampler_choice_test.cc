#include "common/sampling/sampler_choice.h"

#include <cmath>
#include <vector>

#include "common/sampling/knn.h"
#include "gtest/gtest.h"

namespace fedlog::sampling {
namespace {

TEST(ChooseSamplerTest, PublishedBands) {
  struct Case {
    double ratio;
    SamplerKind want;
  };
  for (const Case& c : std::vector<Case>{{1, SamplerKind::kNone},
                                         {2.99, SamplerKind::kNone},
                                         {3, SamplerKind::kSmote},
                                         {10, SamplerKind::kSmote},
                                         {10.01, SamplerKind::kBorderlineSmote},
                                         {100, SamplerKind::kBorderlineSmote},
                                         {100.5, SamplerKind::kAdasyn},
                                         {NAN, SamplerKind::kNone}}) {
    EXPECT_EQ(ChooseSampler(c.ratio), c.want) << c.ratio;
  }
  EXPECT_EQ(SamplerKindName(SamplerKind::kBorderlineSmote), "borderline_smote");
}

TEST(ImbalanceRatioTest, MajorityOverMinority) {
  std::vector<int> y(30, 0);
  y.insert(y.end(), 3, 1);
  EXPECT_DOUBLE_EQ(*ImbalanceRatio(y), 10.0);
  EXPECT_EQ(ImbalanceRatio(std::vector<int>{1, 1}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ClassWeightsTest, InverseFrequency) {
  // n = 10, C = 2: w0 = 10 / (2 * 8) = 0.625, w1 = 10 / (2 * 2) = 2.5; both classes then weigh 5 in
  // total.
  std::vector<int> y(8, 0);
  y.insert(y.end(), 2, 1);
  std::map<int, double> w = InverseFrequencyWeights(y);
  EXPECT_DOUBLE_EQ(w[0], 0.625);
  EXPECT_DOUBLE_EQ(w[1], 2.5);
  EXPECT_TRUE(InverseFrequencyWeights({}).empty());
}

TEST(ResampleTest, NoneKeepsInputAndOthersDispatch) {
  auto x = FeatureMatrix::FromRows({{0, 0}, {1, 0}, {5, 5}, {6, 5}, {0, 1}, {1, 1}});
  ASSERT_TRUE(x.ok());
  const std::vector<int> y = {0, 0, 1, 1, 0, 0};
  auto none = Resample(SamplerKind::kNone, *x, y, {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->features.ToRows(), x->ToRows());
  EXPECT_TRUE(none->origins.empty());
  auto smote = Resample(SamplerKind::kSmote, *x, y, {});
  ASSERT_TRUE(smote.ok());
  EXPECT_EQ(smote->origins.size(), 2u);
  EXPECT_FALSE(FeatureMatrix::FromRows({{0, 0}, {1}}).ok());
}

TEST(FeatureMatrixTest, RoundTripsThroughDenseMatrix) {
  DenseMatrix dense(2, 3);
  for (int i = 0; i < 6; ++i) dense.data[i] = static_cast<float>(i);
  auto m = FeatureMatrix::FromDense(dense);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows(), 2u);
  EXPECT_EQ(m->Row(1)[0], 3.0f);
  EXPECT_EQ(m->ToDense().data, dense.data);
  dense.data.pop_back();
  EXPECT_FALSE(FeatureMatrix::FromDense(dense).ok());
}

TEST(KnnTest, NearestFirstTiesByIndexSelfExcluded) {
  auto x = FeatureMatrix::FromRows({{0}, {2}, {-2}, {1}, {5}});
  const std::vector<size_t> all = {0, 1, 2, 3, 4};
  auto nn = NearestNeighbours(*x, std::vector<size_t>{0}, all, 3);
  EXPECT_EQ(nn[0], (std::vector<size_t>{3, 1, 2}));  // 1, then the tie 2 / 2 by index
  EXPECT_EQ(NearestNeighbours(*x, std::vector<size_t>{4}, all, 10)[0].size(), 4u);
}

}  // namespace
}  // namespace fedlog::sampling
