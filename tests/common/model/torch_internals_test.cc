// Checks the torch-level pieces of the learning core against hand-computed values on tiny tensors:
// the losses, MAML's fast weights and the per-source adapters.
#include <torch/torch.h>

#include <cmath>

#include "common/model/encoder.h"
#include "common/model/losses.h"
#include "common/model/maml.h"
#include "common/model/sparse_adam.h"
#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

torch::Tensor T(std::vector<float> v, int64_t rows) {
  const int64_t cols = static_cast<int64_t>(v.size()) / rows;
  return torch::tensor(v).view({rows, cols});
}

TEST(LossesTest, InfoNceSinglePositiveMatchesHandValue) {
  torch::Tensor z = T({1, 0, 1, 0, 0, 1}, 3);
  torch::Tensor pos = torch::zeros({3, 3}, torch::kBool);
  pos[0][1] = true;
  pos[1][0] = true;
  // Anchors 0 and 1: positive similarity 1, negative 0, t = 0.5 -> log(1 + e^-2); anchor 2 has no
  // positive.
  EXPECT_NEAR(InfoNceLoss(z, pos, 0.5).item<double>(), std::log(1 + std::exp(-2.0)), 1e-6);
}

TEST(LossesTest, InfoNceMultiPositiveMatchesHandValue) {
  torch::Tensor z = T({1, 0, 0.6f, 0.8f, 0, 1}, 3);
  torch::Tensor pos = torch::zeros({3, 3}, torch::kBool);
  pos[0][1] = pos[1][0] = pos[0][2] = pos[2][0] = true;
  const double l0 = std::log(std::exp(0.6) + std::exp(0.0)) - 0.3;  // mean over its two positives
  const double l1 = std::log(std::exp(0.6) + std::exp(0.8)) - 0.6;
  const double l2 = std::log(std::exp(0.0) + std::exp(0.8)) - 0.0;
  EXPECT_NEAR(InfoNceLoss(z, pos, 1.0).item<double>(), (l0 + l1 + l2) / 3, 1e-5);
  // The diagonal never counts as a positive.
  torch::Tensor self_only = torch::eye(3).to(torch::kBool);
  EXPECT_EQ(InfoNceLoss(z, self_only, 1.0).item<double>(), 0.0);
}

TEST(LossesTest, PrototypesDistancesAndProtoLossMatchHandValues) {
  torch::Tensor support = T({0, 0, 2, 0, 0, 2, 0, 4}, 4);
  torch::Tensor protos = ClassPrototypes(support, torch::tensor({0, 0, 1, 1}, torch::kInt64), 2);
  EXPECT_TRUE(torch::allclose(protos, T({1, 0, 0, 3}, 2)));
  torch::Tensor q = T({1, 1, 0, 2}, 2);
  EXPECT_TRUE(torch::allclose(SquaredEuclidean(q, protos), T({1, 5, 5, 1}, 2)));
  torch::Tensor labels = torch::tensor({0, 0}, torch::kInt64);
  // Query 0: d = (1, 5) -> log(1 + e^-4); query 1: d = (5, 1) -> log(1 + e^4).
  const double expected = (std::log(1 + std::exp(-4.0)) + std::log(1 + std::exp(4.0))) / 2;
  EXPECT_NEAR(PrototypicalLoss(q, labels, protos, 1.0).item<double>(), expected, 1e-5);
  // Triplet with margin 0.5: query 0 is fine (1 - 5 + .5 < 0), query 1 costs 5 - 1 + .5.
  EXPECT_NEAR(PrototypeTripletLoss(q, labels, protos, 0.5).item<double>(), 4.5 / 2, 1e-5);
}

TEST(LossesTest, TokenJaccardAndPairSimilarityMatchHandValues) {
  // {1,2,3} vs {2,3,4}: 2 / 4; duplicates count once; two empty lines are equal.
  torch::Tensor j = TokenJaccardMatrix({{1, 2, 3}, {3, 2, 2}, {}}, {{2, 3, 4}, {}}, torch::kCPU);
  EXPECT_TRUE(torch::allclose(j, T({0.5f, 0, 2.0f / 3.0f, 0, 0, 1}, 3)));
  // a = (1, 0), b = (0.6, 0.8): cosine 0.6 against target 0.5 -> 0.01; a with itself against 1 -> 0.
  torch::Tensor a = T({1, 0}, 1), b = T({1, 0, 0.6f, 0.8f}, 2);
  EXPECT_NEAR(PairSimilarityLoss(a, b, T({1, 0.5f}, 1)).item<double>(), 0.01 / 2, 1e-6);
  EXPECT_NEAR(PairSimilarityLoss(a, b, T({1, 0.6f}, 1)).item<double>(), 0.0, 1e-9);
}

TEST(LossesTest, FocalLossMatchesHandValue) {
  torch::Tensor logits = torch::zeros({2, 2});
  torch::Tensor targets = torch::tensor({1, 0}, torch::kInt64);
  // p_t = 0.5 for both: alpha_t (0.25 anomalous, 0.75 normal) * (0.5)^2 * ln 2.
  const double expected = (0.25 + 0.75) * 0.25 * std::log(2.0) / 2;
  EXPECT_NEAR(FocalLoss(logits, targets, 0.25, 2.0).item<double>(), expected, 1e-6);
}

EncoderSpec TinySpec() {
  EncoderSpec spec;
  spec.vocab_buckets = 64;
  spec.token_dim = 8;
  spec.dense_dim = 3;
  spec.hidden = {16};
  spec.out_dim = 8;
  spec.adapter_dim = 4;
  spec.head_dim = 8;
  spec.dropout = 0.0f;
  spec.sources = {"HDFS", "BGL"};
  return spec;
}

LineSet TinyLines(const std::string& source) {
  LineSet lines;
  lines.tokens = {{1, 2, 3}, {1, 2, 4}, {10, 11}, {10, 12, 13}};
  lines.dense = DenseMatrix(4, 3);
  for (int r = 0; r < 4; ++r) lines.dense.Row(r)[r % 3] = 1.0f;
  lines.sources.assign(4, source);
  return lines;
}

TEST(EncoderTest, ParameterNamesAreStable) {
  torch::manual_seed(1);
  Encoder net(TinySpec());
  std::vector<std::string> names;
  for (const auto& item : net->named_parameters()) names.push_back(item.key());
  std::vector<std::string> expected = {"embed.weight",
                                       "mlp.0.weight",
                                       "mlp.0.bias",
                                       "norm.0.weight",
                                       "norm.0.bias",
                                       "out.weight",
                                       "out.bias",
                                       "adapter.HDFS.down.weight",
                                       "adapter.HDFS.down.bias",
                                       "adapter.HDFS.up.weight",
                                       "adapter.HDFS.up.bias",
                                       "adapter.BGL.down.weight",
                                       "adapter.BGL.down.bias",
                                       "adapter.BGL.up.weight",
                                       "adapter.BGL.up.bias",
                                       "head.0.weight",
                                       "head.0.bias",
                                       "head.1.weight",
                                       "head.1.bias"};
  EXPECT_EQ(names, expected);
}

TEST(EncoderTest, OnlyTheChosenSourceAdapterGetsGradients) {
  torch::manual_seed(2);
  EncoderSpec spec = TinySpec();
  Encoder net(spec);
  {
    // Non-zero up-projections, so every adapter parameter would receive a gradient if it were used.
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_parameters()) {
      if (item.key().find(".up.") != std::string::npos) item.value().normal_(0, 0.1);
    }
  }
  torch::Tensor z = net->forward(MakeEncoderInput(spec, TinyLines("HDFS"), torch::kCPU));
  EXPECT_TRUE(torch::allclose(z.norm(2, 1), torch::ones({4}), 1e-5));
  (z * torch::randn_like(z)).sum().backward();
  for (auto& item : net->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& g = item.value().grad();
    if (name.rfind("adapter.HDFS.", 0) == 0) {
      ASSERT_TRUE(g.defined()) << name;
      EXPECT_GT(g.abs().sum().item<float>(), 0.0f) << name;
    } else if (name.rfind("adapter.BGL.", 0) == 0 || name.rfind("head.", 0) == 0) {
      EXPECT_TRUE(!g.defined() || g.abs().sum().item<float>() == 0.0f) << name;
    }
  }
}

TEST(MamlTest, InnerStepsChangeFastWeightsNotSlowWeights) {
  torch::manual_seed(3);
  EncoderSpec spec = TinySpec();
  Encoder net(spec);
  ParamMap slow = ParamsOf(*net);
  ParamMap before;
  for (const auto& [name, t] : slow) before[name] = t.detach().clone();
  EncoderInput support = MakeEncoderInput(spec, TinyLines("BGL"), torch::kCPU);
  torch::Tensor labels = torch::tensor({0, 0, 1, 1}, torch::kInt64);
  InnerLoopOptions inner;
  inner.steps = 1;
  inner.lr = 0.1;
  inner.distance_scale = 1.0;
  ParamMap fast = InnerAdapt(slow, spec, support, labels, 2, inner, /*train=*/false);
  EXPECT_FALSE(torch::equal(fast.at("out.weight"), before.at("out.weight")));
  EXPECT_FALSE(torch::equal(fast.at("mlp.0.weight"), before.at("mlp.0.weight")));
  EXPECT_TRUE(
      torch::equal(fast.at("embed.weight"), before.at("embed.weight")));  // adapt_embedding off
  for (const auto& [name, t] : slow) EXPECT_TRUE(torch::equal(t, before.at(name))) << name;
  // One step is exactly slow - lr * grad of the support loss.
  ParamMap probe;
  for (const auto& [name, t] : before) probe[name] = t.clone().requires_grad_(true);
  torch::Tensor loss = SupportLoss(probe, spec, support, labels, 2, 1.0, false);
  torch::Tensor g = torch::autograd::grad({loss}, {probe.at("out.weight")})[0];
  EXPECT_TRUE(
      torch::allclose(fast.at("out.weight"), before.at("out.weight") - 0.1 * g, 1e-5, 1e-6));
  // Second order keeps a graph back to the slow weights; the outer loss reaches them.
  QueryLoss(fast, spec, support, labels, support, labels, 2, 1.0, true, 0.5).backward();
  ASSERT_TRUE(slow.at("out.weight").grad().defined());
  EXPECT_GT(slow.at("out.weight").grad().abs().sum().item<float>(), 0.0f);
}

TEST(MamlTest, FirstOrderPassesTheFastGradientStraightThrough) {
  torch::manual_seed(4);
  EncoderSpec spec = TinySpec();
  Encoder net(spec);
  ParamMap slow = ParamsOf(*net);
  EncoderInput input = MakeEncoderInput(spec, TinyLines("HDFS"), torch::kCPU);
  torch::Tensor labels = torch::tensor({0, 0, 1, 1}, torch::kInt64);
  InnerLoopOptions inner;
  inner.steps = 2;
  inner.first_order = true;
  inner.distance_scale = 1.0;
  ParamMap fast = InnerAdapt(slow, spec, input, labels, 2, inner, false);
  torch::Tensor outer = QueryLoss(fast, spec, input, labels, input, labels, 2, 1.0, false, 0.5);
  torch::Tensor g_fast = torch::autograd::grad({outer}, {fast.at("out.weight")}, {}, true)[0];
  outer.backward();
  EXPECT_TRUE(torch::allclose(slow.at("out.weight").grad(), g_fast, 1e-5, 1e-7));
}

TEST(SparseRowAdamTest, MatchesDenseAdamOnTouchedRowsAndLeavesOthers) {
  torch::Tensor lazy = torch::arange(10, torch::kFloat32).view({5, 2}).requires_grad_(true);
  torch::Tensor dense = lazy.detach().clone().requires_grad_(true);
  SparseRowAdam lazy_opt(lazy, 0.1);
  torch::optim::Adam dense_opt({dense}, torch::optim::AdamOptions(0.1));
  torch::Tensor rows = torch::tensor({1, 3, 1}, torch::kInt64);  // row 1 twice: gradients add up
  auto loss = [&](const torch::Tensor& w) {
    return torch::nn::functional::embedding(rows, w,
                                            torch::nn::functional::EmbeddingFuncOptions().sparse(
                                                w.data_ptr() == lazy.data_ptr()))
        .pow(2)
        .sum();
  };
  loss(lazy).backward();
  ASSERT_TRUE(lazy.grad().is_sparse());
  lazy_opt.Step();
  dense_opt.zero_grad();
  loss(dense).backward();
  dense_opt.step();
  EXPECT_TRUE(torch::allclose(lazy, dense, 1e-6, 1e-6));
  EXPECT_FALSE(lazy.grad().defined());  // cleared for the next sparse accumulation
  // Step 2 touches row 1 only: row 3 keeps its value (dense Adam would move it on momentum alone).
  torch::Tensor row3 = lazy.detach()[3].clone();
  rows = torch::tensor({1}, torch::kInt64);
  loss(lazy).backward();
  lazy_opt.Step();
  EXPECT_TRUE(torch::equal(lazy.detach()[3], row3));
  EXPECT_FALSE(torch::allclose(lazy.detach()[1], dense.detach()[1]));
}

}  // namespace
}  // namespace fedlog::model
