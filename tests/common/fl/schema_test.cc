// The model schema's optional part, the weight-share cap and the statistics a strategy trusts
// (docs/SECURITY-aggregation.md).
#include <cmath>
#include <numeric>

#include "common/fl/fedavg.h"
#include "common/fl/strategy.h"
#include "gtest/gtest.h"

namespace fedlog::fl {
namespace {

UpdateCheckOptions Encoder() {
  UpdateCheckOptions o;
  o.out_dim = 4;
  o.adapter_dim = 2;
  return o;
}

NamedTensor Tensor(const std::string& name, std::vector<int64_t> shape) {
  NamedTensor t{name, std::move(shape), {}};
  t.values.assign(static_cast<size_t>(t.NumElements()), 1.0f);
  return t;
}

TEST(ModelSchemaTest, OnlyKnownOptionalNamesHaveAShape) {
  const UpdateCheckOptions o = Encoder();
  EXPECT_EQ(*ExpectedOptionalShape("prototypes.global", o), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(*ExpectedOptionalShape("adapter.HDFS.down.weight", o), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(*ExpectedOptionalShape("adapter.HDFS.prototypes", o), (std::vector<int64_t>{2, 4}));
  for (const char* bad : {"prototypes.evil", "prototypes.", "adapter.HDFS.evil", "adapter..down.weight",
                          "adapter.HDFS.down.weight.x", "adapter.a b.up.bias"}) {
    EXPECT_FALSE(ExpectedOptionalShape(bad, o).ok()) << bad;
  }
  EXPECT_FALSE(ExpectedOptionalShape("prototypes.global", UpdateCheckOptions()).ok());
}

TEST(ModelSchemaTest, CheckerRefusesAnExtraPrototypeEvenWhenTheGlobalModelHasIt) {
  BundleLayout global = {{"w", {3}}, {"prototypes.evil", {2, 4}}};
  UpdateCheckOptions o = Encoder();
  UpdateChecker checker(global, o);
  EXPECT_TRUE(checker.Check(Tensor("w", {3})).ok());
  EXPECT_FALSE(checker.Check(Tensor("prototypes.evil", {2, 4})).ok());
}

TEST(ModelSchemaTest, SitesDropUnknownOptionalTensorsAndKeepTheRest) {
  TensorBundle b;
  b.tensors = {Tensor("embed.weight", {3}), Tensor("prototypes.global", {2, 4}), Tensor("prototypes.evil", {2, 4}),
               Tensor("adapter.HDFS.up.bias", {4}), Tensor("adapter.HDFS.up.weight", {9})};
  std::vector<std::string> dropped = DropUnknownOptional(&b, Encoder());
  EXPECT_EQ(dropped, (std::vector<std::string>{"prototypes.evil", "adapter.HDFS.up.weight"}));
  ASSERT_EQ(b.tensors.size(), 3u);
  EXPECT_NE(b.Find("embed.weight"), nullptr);  // shared tensors are never dropped
  // A model without schema shapes (mlp_autoencoder) takes no optional tensors at all.
  dropped = DropUnknownOptional(&b, UpdateCheckOptions());
  EXPECT_EQ(dropped.size(), 2u);
}

TEST(WeightCapTest, NoWeightExceedsTheShareAndTheRestKeepTheirRatios) {
  std::vector<double> w = CapWeightShares({0.97, 0.02, 0.01}, 0.5);
  EXPECT_NEAR(w[0], 0.5, 1e-12);
  EXPECT_NEAR(w[1] / w[2], 2.0, 1e-9);
  EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), 1.0, 1e-12);
  // Two large ones capped, the third takes the rest.
  w = CapWeightShares({0.45, 0.45, 0.1}, 0.4);
  EXPECT_NEAR(w[0], 0.4, 1e-12);
  EXPECT_NEAR(w[1], 0.4, 1e-12);
  EXPECT_NEAR(w[2], 0.2, 1e-12);
  // The cap is at least 1/n; one site or no cap: unchanged.
  w = CapWeightShares({0.9, 0.1}, 0.3);
  EXPECT_NEAR(w[0], 0.5, 1e-12);
  EXPECT_EQ(CapWeightShares({1.0}, 0.5), std::vector<double>{1.0});
  EXPECT_EQ(CapWeightShares({0.9, 0.1}, 1.0), (std::vector<double>{0.9, 0.1}));
}

TEST(WeightCapTest, ClaimedStatisticsAreClampedInEveryWeightedStrategy) {
  StrategyOptions o;
  o.max_weight_share = 0.5;
  std::vector<UpdateStats> stats(3);
  stats[0].samples = int64_t{1} << 62;  // beyond kMaxUpdateSamples
  stats[0].distinct_templates = int64_t{1} << 62;
  stats[0].imbalance_ratio = INFINITY;
  for (int i = 1; i < 3; ++i) {
    stats[i].samples = 100;
    stats[i].distinct_templates = 10;
    stats[i].imbalance_ratio = 1;
  }
  for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kWeightedFedAvg}) {
    o.kind = kind;
    auto w = ComputeWeights(stats, o);
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_NEAR((*w)[0], 0.5, 1e-9) << StrategyName(kind);
    EXPECT_NEAR((*w)[1], 0.25, 1e-9) << StrategyName(kind);
    for (double x : *w) EXPECT_TRUE(std::isfinite(x));
  }
}

}  // namespace
}  // namespace fedlog::fl
