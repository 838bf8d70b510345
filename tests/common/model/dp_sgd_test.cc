// Line-level DP-SGD (dp_sgd.h, dp_sgd_step.h): one line's effect on a step's clipped gradient sum
// is at most C however large its gradient, the noise has the documented standard deviation, Poisson
// sampling keeps its rate, the round's epsilon is common/privacy's for the same (q, sigma, steps),
// a site's round under line DP sends no prototypes and no loss computed on its lines, and the
// embedding table's sparse gradients are clipped by their coalesced norm while its noise is dense.
#include "common/model/dp_sgd.h"

#include <torch/torch.h>

#include <cmath>
#include <set>

#include "common/model/dp_sgd_step.h"
#include "common/model/site_round.h"
#include "common/privacy/rdp_accountant.h"
#include "gtest/gtest.h"
#include "tests/common/model/small_lines.h"

namespace fedlog::model {
namespace {

using testing::SmallLines;
using testing::SmallSpec;

double Norm(const std::vector<torch::Tensor>& ts) {
  double s = 0;
  for (const torch::Tensor& t : ts) s += t.to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(s);
}

// A linear "model" w . x per line: a micro-batch's loss is the mean over its lines, so a line with
// a huge x has a huge gradient.
std::vector<torch::Tensor> ClippedSum(const torch::Tensor& w, const std::vector<torch::Tensor>& mbs,
                                      double microbatch_clip) {
  ClippedGradientSum sum({w}, microbatch_clip);
  for (const torch::Tensor& x : mbs) {
    (x.matmul(w)).mean().backward();
    sum.Accumulate();
  }
  return {sum.sum()[0].clone()};
}

TEST(DpSgdTest, OneLineChangesTheClippedSumByAtMostC) {
  constexpr double kClip = 1.0;
  torch::Tensor w = torch::zeros({4}, torch::requires_grad());
  torch::Tensor a = torch::tensor({{0.1f, 0.0f, 0.2f, 0.0f}, {0.0f, 0.3f, 0.0f, 0.1f}});
  torch::Tensor b = torch::tensor({{0.05f, 0.05f, 0.0f, 0.0f}});
  torch::Tensor huge = torch::tensor({{1e6f, -1e6f, 3e5f, 7e5f}});
  const std::vector<torch::Tensor> without = ClippedSum(w, {a, b}, kClip / 2);
  // The huge line joins micro-batch a: only a's clipped gradient changes.
  const std::vector<torch::Tensor> with = ClippedSum(w, {torch::cat({a, huge}), b}, kClip / 2);
  EXPECT_LE(Norm({with[0] - without[0]}), kClip + 1e-6);
  EXPECT_GT(Norm({with[0] - without[0]}), 0.4);  // it did contribute (clipped, not dropped)
  // Small micro-batches pass unclipped: the sum is the plain gradient sum.
  torch::Tensor plain = a.mean(0) + b.mean(0);
  EXPECT_TRUE(torch::allclose(without[0], plain, 1e-6, 1e-7));
  // A micro-batch made of the huge line alone contributes exactly C/2.
  EXPECT_NEAR(Norm(ClippedSum(w, {huge}, kClip / 2)), kClip / 2, 1e-6);
}

TEST(DpSgdTest, NoiseHasTheRightStandardDeviation) {
  absl::StatusOr<privacy::GaussianSampler> sampler = privacy::GaussianSampler::Create();
  ASSERT_TRUE(sampler.ok());
  torch::Tensor w = torch::zeros({200, 100}, torch::requires_grad());
  ClippedGradientSum sum({w}, 0.5);
  sum.WriteNoisyMean(/*noise_std=*/3.0, /*denominator=*/4.0, *sampler);
  ASSERT_TRUE(w.grad().defined());
  // sigma*C / M = 3 / 4 per coordinate, over 20000 coordinates: sample std within 3%.
  EXPECT_NEAR(w.grad().std().item<double>(), 0.75, 0.75 * 0.03);
  EXPECT_NEAR(w.grad().mean().item<double>(), 0.0, 0.03);
  // The sum is reset: with zero noise the next step's gradient is exactly zero.
  sum.WriteNoisyMean(0.0, 1.0, *sampler);
  EXPECT_EQ(w.grad().abs().max().item<float>(), 0.0f);
}

TEST(DpSgdTest, PoissonSamplingKeepsItsRateAndUsesEachLineOnce) {
  absl::StatusOr<privacy::GaussianSampler> sampler = privacy::GaussianSampler::Create();
  ASSERT_TRUE(sampler.ok());
  const int64_t n = 20000;
  std::vector<std::vector<int64_t>> mbs = PoissonMicrobatches(n, 0.1, 8, *sampler);
  ASSERT_EQ(mbs.size(), 8u);
  std::set<int64_t> seen;
  for (const auto& mb : mbs) {
    EXPECT_NEAR(static_cast<double>(mb.size()), 250.0, 5 * std::sqrt(250.0));
    for (int64_t r : mb) EXPECT_TRUE(seen.insert(r).second) << r;
  }
  // Expected 2000, standard deviation sqrt(20000 * 0.1 * 0.9) ~ 42.
  EXPECT_NEAR(static_cast<double>(seen.size()), 2000.0, 5 * 42.5);
}

TEST(DpSgdTest, EpsilonIsTheAccountantsForTheSameMechanism) {
  const double q = 256.0 / 5000, sigma = 1.1, delta = 1e-5;
  absl::StatusOr<privacy::EpsilonAtOrder> direct =
      privacy::SampledGaussianEpsilon(q, sigma, 40, delta, privacy::DefaultOrders());
  ASSERT_TRUE(direct.ok());
  std::vector<LineDpPhase> phases = {{"contrastive", q, sigma, 30}, {"meta", q, sigma, 10}};
  absl::StatusOr<double> composed = LineDpEpsilon(phases, delta);
  ASSERT_TRUE(composed.ok());
  EXPECT_NEAR(*composed, direct->epsilon, 1e-9);
  EXPECT_GT(*composed, 0.1);
  EXPECT_EQ(*LineDpEpsilon({}, delta), 0.0);
  // Bisection: the sigma found meets the target and a slightly smaller one does not.
  absl::StatusOr<double> s = NoiseMultiplierForEpsilon(phases, 2.0, delta);
  ASSERT_TRUE(s.ok()) << s.status();
  for (LineDpPhase& p : phases) p.sigma = *s;
  EXPECT_LE(*LineDpEpsilon(phases, delta), 2.0);
  for (LineDpPhase& p : phases) p.sigma = *s * 0.99;
  EXPECT_GT(*LineDpEpsilon(phases, delta), 2.0);
}

TEST(DpSgdTest, SiteRoundUnderLineDpReportsItsMechanismAndSendsNoPrototypes) {
  const EncoderSpec spec = SmallSpec();
  absl::StatusOr<fl::TensorBundle> init = InitialEncoderWeights(spec);
  ASSERT_TRUE(init.ok());
  LocalWork work;
  work.contrastive_steps = 3;
  work.meta_iterations = 2;
  work.batch_size = 40;
  work.line_dp.noise_multiplier = 1.0;
  work.line_dp.clip = 1.0;
  work.line_dp.delta = 1e-5;
  // Session 7's configuration (the defaults are now per_line without contrastive steps:
  // dp_supervised_test.cc).
  work.line_dp.contrastive = true;
  work.line_dp.labeled_objective = LabeledDpObjective::kEpisodes;
  absl::StatusOr<SiteRoundResult> r = RunSiteRound(spec, *init, SmallLines(), LineSet(), work);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->line_dp_phases.size(), 2u);
  EXPECT_EQ(r->line_dp_phases[0].name, "contrastive");
  EXPECT_NEAR(r->line_dp_phases[0].q, 40.0 / 200, 1e-12);
  EXPECT_EQ(r->line_dp_phases[0].steps, 3);
  EXPECT_EQ(r->line_dp_phases[1].name, "meta");
  EXPECT_NEAR(r->line_dp_phases[1].q, 8.0 * 32 / 200 > 1 ? 1.0 : 8.0 * 32 / 200, 1e-12);
  EXPECT_EQ(r->line_dp_phases[1].steps, 2);
  EXPECT_NEAR(r->line_dp_round_epsilon, *LineDpEpsilon(r->line_dp_phases, 1e-5), 1e-12);
  EXPECT_EQ(r->metrics.count("train_contrastive_loss"), 0u);
  EXPECT_EQ(r->contrastive_loss, 0.0);
  for (const fl::NamedTensor& t : r->weights.tensors) {
    EXPECT_EQ(t.name.find("prototypes"), std::string::npos) << t.name;
  }
  // The embedding table trains under DP (train_embedding defaults to true), and so does the MLP;
  // the losses stay in local_only.
  EXPECT_NE(r->weights.Find("embed.weight")->values, init->Find("embed.weight")->values);
  EXPECT_NE(r->weights.Find("out.weight")->values, init->Find("out.weight")->values);
  EXPECT_EQ(r->local_only.count("train_contrastive_loss"), 1u);
  // The ablation switch freezes it again.
  work.line_dp.train_embedding = false;
  r = RunSiteRound(spec, *init, SmallLines(), LineSet(), work);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->weights.Find("embed.weight")->values, init->Find("embed.weight")->values);
}

// A sparse row gradient (embed.weight's) may name a row twice; its norm is the coalesced one's, and
// the clip bounds the joint norm of the sparse and the dense parameters' gradients.
TEST(DpSgdTest, SparseGradientsAreCoalescedAndClippedJointly) {
  torch::Tensor table = torch::zeros({10, 3}, torch::requires_grad());
  torch::Tensor dense = torch::zeros({2}, torch::requires_grad());
  ClippedGradientSum sum({table, dense}, /*microbatch_clip=*/3.5);
  // Row 2 twice: (3,0,0) + (4,0,0) = (7,0,0), norm 7 (summing squares entry by entry gives 5).
  table.mutable_grad() = torch::sparse_coo_tensor(torch::tensor({{2, 2}}, torch::kInt64),
                                                  torch::tensor({{3.f, 0.f, 0.f}, {4.f, 0.f, 0.f}}),
                                                  {10, 3});
  dense.mutable_grad() = torch::zeros({2});
  EXPECT_NEAR(sum.Accumulate(), 7.0, 1e-6);
  EXPECT_NEAR(Norm(sum.sum()), 3.5, 1e-5);
  EXPECT_NEAR(sum.sum()[0][2][0].item<double>(), 3.5, 1e-5);
  EXPECT_FALSE(table.grad().defined());  // cleared for the next micro-batch
  // Sparse and dense together: (0,6,0) in row 5 and (8,0) dense, joint norm 10 -> scaled to 3.5.
  table.mutable_grad() = torch::sparse_coo_tensor(torch::tensor({{5}}, torch::kInt64),
                                                  torch::tensor({{0.f, 6.f, 0.f}}), {10, 3});
  dense.mutable_grad() = torch::tensor({8.f, 0.f});
  EXPECT_NEAR(sum.Accumulate(), 10.0, 1e-5);
  EXPECT_NEAR(sum.sum()[0][5][1].item<double>(), 6.0 * 0.35, 1e-5);
  EXPECT_NEAR(sum.sum()[1][0].item<double>(), 8.0 * 0.35, 1e-5);
}

// The noise goes on every row of the table, not only on the rows the step's lines touched: which
// rows moved would otherwise tell which words the site's lines contain.
TEST(DpSgdTest, NoiseReachesEveryRowOfASparselyTouchedTable) {
  absl::StatusOr<privacy::GaussianSampler> sampler = privacy::GaussianSampler::Create();
  ASSERT_TRUE(sampler.ok());
  torch::Tensor table = torch::zeros({1000, 4}, torch::requires_grad());
  ClippedGradientSum sum({table}, 0.5);
  table.mutable_grad() = torch::sparse_coo_tensor(torch::tensor({{7}}, torch::kInt64),
                                                  torch::ones({1, 4}), {1000, 4});
  sum.Accumulate();
  sum.WriteNoisyMean(/*noise_std=*/1.0, /*denominator=*/1.0, *sampler);
  ASSERT_TRUE(table.grad().defined());
  EXPECT_FALSE(table.grad().is_sparse());
  const torch::Tensor row_touched = (table.grad().abs().sum(1) > 0);
  EXPECT_EQ(row_touched.sum().item<int64_t>(), 1000);
}

// Through the real trainer: rows that no line's template token hashes to still move (dense noise).
TEST(DpSgdTest, DpContrastiveMovesEmbeddingRowsNoLineTouches) {
  const EncoderSpec spec = SmallSpec();
  absl::StatusOr<fl::TensorBundle> init = InitialEncoderWeights(spec);
  ASSERT_TRUE(init.ok());
  ContrastiveOptions c;
  c.steps = 2;
  c.batch_size = 40;
  c.head_lr = c.adapter_lr = 1e-3f;
  c.augment.token_resample = 0;  // no token outside the lines' own
  LineDpOptions dp;
  dp.noise_multiplier = 1.0;
  LineDpPhase phase;
  LineSet lines = SmallLines();
  lines.labels.clear();
  absl::StatusOr<ContrastiveResult> r = DpPretrainContrastive(spec, *init, lines, c, dp, &phase);
  ASSERT_TRUE(r.ok()) << r.status();
  // SmallLines' tokens: 0, 1, 7, 8, 14, 15, 21, 22 and 100..255; rows 30..99 are touched by none.
  const std::vector<float>& before = init->Find("embed.weight")->values;
  const std::vector<float>& after = r->weights.Find("embed.weight")->values;
  int moved = 0;
  for (int row = 30; row < 100; ++row) {
    bool changed = false;
    for (int d = 0; d < spec.token_dim; ++d) {
      changed |= before[static_cast<size_t>(row * spec.token_dim + d)] !=
                 after[static_cast<size_t>(row * spec.token_dim + d)];
    }
    moved += changed ? 1 : 0;
  }
  EXPECT_EQ(moved, 70);
}

}  // namespace
}  // namespace fedlog::model
