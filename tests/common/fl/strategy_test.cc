#include <cmath>

#include "common/fl/bundle_codec.h"
#include "common/fl/server_optimizer.h"
#include "common/fl/strategy.h"
#include "gtest/gtest.h"

namespace fedlog::fl {
namespace {

// One shared tensor "w" (3 values) and adapters for HDFS and BGL (1 value each).
TensorBundle Delta(float w, float hdfs, float bgl) {
  TensorBundle t;
  t.tensors.push_back({"w", {3}, {w, 2 * w, -w}});
  t.tensors.push_back({"adapter.HDFS.down.weight", {1}, {hdfs}});
  t.tensors.push_back({"adapter.BGL.down.weight", {1}, {bgl}});
  return t;
}

UpdateStats Stats(int64_t samples, std::vector<std::string> sources, int64_t templates = 10, double ratio = 1) {
  return UpdateStats{samples, templates, ratio, std::move(sources)};
}

TEST(StrategyTest, AdapterSourceParsesNames) {
  EXPECT_EQ(AdapterSource("adapter.HDFS.down.weight"), "HDFS");
  EXPECT_EQ(AdapterSource("encoder.0.weight"), "");
  EXPECT_EQ(AdapterSource("adapter.broken"), "");
}

TEST(StrategyTest, FedAvgAveragesSharedOverAllAndAdaptersOnlyOverTheirSites) {
  TensorBundle global = Delta(0, 0, 0);
  TensorBundle a = Delta(1, 10, 99), b = Delta(3, 99, 20), c = Delta(5, 30, 40);
  std::vector<ClientUpdate> ups = {{"a", &a, Stats(100, {"HDFS"})},
                                   {"b", &b, Stats(100, {"BGL"})},
                                   {"c", &c, Stats(200, {"HDFS", "BGL"})}};
  auto agg = AggregateDeltas(global, ups, {});
  ASSERT_TRUE(agg.ok()) << agg.status();
  // shared: (1*100 + 3*100 + 5*200) / 400 = 3.5
  EXPECT_FLOAT_EQ(agg->Find("w")->values[0], 3.5f);
  EXPECT_FLOAT_EQ(agg->Find("w")->values[1], 7.0f);
  // HDFS adapter: sites a and c only: (10*100 + 30*200) / 300
  EXPECT_NEAR(agg->Find("adapter.HDFS.down.weight")->values[0], 7000.0 / 300, 1e-4);
  // BGL adapter: sites b and c only: (20*100 + 40*200) / 300
  EXPECT_NEAR(agg->Find("adapter.BGL.down.weight")->values[0], 10000.0 / 300, 1e-4);
}

TEST(StrategyTest, AdapterWithoutParticipantsStaysUnchanged) {
  TensorBundle global = Delta(0, 0, 0);
  TensorBundle a = Delta(1, 5, 5);
  auto agg = AggregateDeltas(global, {{"a", &a, Stats(10, {"HDFS"})}}, {});
  ASSERT_TRUE(agg.ok());
  EXPECT_FLOAT_EQ(agg->Find("adapter.BGL.down.weight")->values[0], 0.0f);
  EXPECT_FLOAT_EQ(agg->Find("adapter.HDFS.down.weight")->values[0], 5.0f);
}

TEST(StrategyTest, WeightedFedAvgBlendsNormalisedTerms) {
  StrategyOptions o;
  o.kind = StrategyKind::kWeightedFedAvg;
  // samples 100:300 -> .25/.75; templates 30:10 -> .75/.25; imbalance log1p(e-1)=1 : log1p(0)=0 -> 1/0
  auto w = ComputeWeights({Stats(100, {}, 30, std::exp(1.0) - 1), Stats(300, {}, 10, 0)}, o);
  ASSERT_TRUE(w.ok());
  EXPECT_NEAR((*w)[0], 0.3 * 0.25 + 0.4 * 0.75 + 0.3 * 1.0, 1e-9);
  EXPECT_NEAR((*w)[1], 0.3 * 0.75 + 0.4 * 0.25 + 0.3 * 0.0, 1e-9);
  o.weight_samples = -1;
  EXPECT_FALSE(ComputeWeights({Stats(1, {})}, o).ok());
  EXPECT_FALSE(ComputeWeights({Stats(0, {})}, {}).ok());
}

TEST(StrategyTest, MedianAndTrimmedMeanResistAnOutlier) {
  TensorBundle global = Delta(0, 0, 0);
  TensorBundle d1 = Delta(1, 0, 0), d2 = Delta(2, 0, 0), d3 = Delta(3, 0, 0), d4 = Delta(4, 0, 0),
               bad = Delta(1000, 0, 0);
  std::vector<ClientUpdate> ups = {{"1", &d1, Stats(1, {})}, {"2", &d2, Stats(1, {})}, {"3", &d3, Stats(1, {})},
                                   {"4", &d4, Stats(1, {})}, {"x", &bad, Stats(1000, {})}};
  StrategyOptions median;
  median.kind = StrategyKind::kMedian;
  EXPECT_FLOAT_EQ(AggregateDeltas(global, ups, median)->Find("w")->values[0], 3.0f);
  StrategyOptions trimmed;
  trimmed.kind = StrategyKind::kTrimmedMean;
  trimmed.trim_fraction = 0.2;  // drops one value per side of five
  EXPECT_FLOAT_EQ(AggregateDeltas(global, ups, trimmed)->Find("w")->values[0], 3.0f);
  EXPECT_GT(AggregateDeltas(global, ups, {})->Find("w")->values[0], 900.0f);  // plain FedAvg is dragged away
  trimmed.trim_fraction = 0.5;
  EXPECT_FALSE(AggregateDeltas(global, ups, trimmed).ok());
}

TEST(StrategyTest, ClippingBoundsAnUpdateScaledByAHundred) {
  TensorBundle global = Delta(0, 0, 0);
  TensorBundle honest = Delta(1, 0, 0), scaled = Delta(100, 0, 0);
  StrategyOptions o;
  o.clip_norm = std::sqrt(6.0);  // the honest delta's norm: sqrt(1 + 4 + 1)
  auto agg = AggregateDeltas(global, {{"h", &honest, Stats(1, {})}, {"s", &scaled, Stats(1, {})}}, o);
  ASSERT_TRUE(agg.ok());
  EXPECT_NEAR(agg->Find("w")->values[0], 1.0, 1e-5);  // both clipped to the same vector
}

TEST(ServerOptimizerTest, NoneIsPlainAdditionAndAdamMovesBySignedSteps) {
  TensorBundle global = Delta(1, 1, 1);
  TensorBundle delta = Delta(0.5f, -0.5f, 0);
  ServerOptimizerState state;
  auto plain = ApplyServerUpdate(global, delta, {}, &state);
  ASSERT_TRUE(plain.ok());
  EXPECT_FLOAT_EQ(plain->Find("w")->values[0], 1.5f);
  ServerOptimizerOptions adam;
  adam.kind = ServerOptimizerKind::kFedAdam;
  adam.lr = 0.1;
  auto next = ApplyServerUpdate(global, delta, adam, &state);
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->Find("w")->values[0], 1.0f);
  EXPECT_LT(next->Find("adapter.HDFS.down.weight")->values[0], 1.0f);
  EXPECT_FLOAT_EQ(next->Find("adapter.BGL.down.weight")->values[0], 1.0f);  // zero gradient: no move
  EXPECT_EQ(state.steps, 1);
  auto restored = StateFromBundle(StateToBundle(state));
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->steps, 1);
  EXPECT_EQ(restored->m.Find("w")->values, state.m.Find("w")->values);
  ServerOptimizerOptions yogi = adam;
  yogi.kind = ServerOptimizerKind::kFedYogi;
  ServerOptimizerState ystate;
  EXPECT_TRUE(ApplyServerUpdate(global, delta, yogi, &ystate).ok());
  EXPECT_FALSE(ParseServerOptimizer("sgd").ok());
}

TEST(CodecTest, Float16Int8AndZstdStayCloseAndShrink) {
  TensorBundle b;
  NamedTensor t{"w", {1000}, {}};
  for (int i = 0; i < 1000; ++i) t.values.push_back(std::sin(0.1f * static_cast<float>(i)) * 0.01f);
  b.tensors.push_back(t);
  auto f32 = EncodeBundle(b);
  EncodeOptions half{WireDType::kFloat16, false, 3};
  EncodeOptions q8{WireDType::kInt8, true, 3};
  auto f16 = EncodeBundle(b, half);
  auto i8 = EncodeBundle(b, q8);
  ASSERT_TRUE(f32.ok() && f16.ok() && i8.ok());
  EXPECT_LT(f16->size(), f32->size() * 0.55);
  EXPECT_LT(i8->size(), f32->size() * 0.3);
  auto d16 = DecodeBundle(*f16);
  auto d8 = DecodeBundle(*i8);
  ASSERT_TRUE(d16.ok() && d8.ok()) << d8.status();
  for (int i = 0; i < 1000; ++i) {
    EXPECT_NEAR(d16->tensors[0].values[i], t.values[i], 1e-5);
    EXPECT_NEAR(d8->tensors[0].values[i], t.values[i], 0.01 / 127 * 0.51);
  }
  std::string corrupt = *i8;
  corrupt.resize(corrupt.size() / 2);
  EXPECT_FALSE(DecodeBundle(corrupt).ok());
  EXPECT_FALSE(DecodeBundle(*i8, 100).ok());  // expands past the limit
}

}  // namespace
}  // namespace fedlog::fl
