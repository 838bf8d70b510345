// Line-level DP's per-line supervised objective (dp_sgd.h, DpSupervisedTrain): one line's clipped
// gradient does not depend on which other lines the step sampled and is at most C, the two classes
// are sampled at their own rates (never above the rate the accountant charges), a round's phases
// are the planned ones and compose over rounds as one mechanism, and a site round under the
// default line DP trains prototypes.global under DP and sends no loss computed on its lines.
#include <algorithm>
#include <cmath>
#include <set>

#include "common/model/dp_sgd.h"
#include "common/model/site_round.h"
#include "common/privacy/rdp_accountant.h"
#include "gtest/gtest.h"
#include "tests/common/model/small_lines.h"

namespace fedlog::model {
namespace {

using testing::SmallLines;
using testing::SmallSpec;

// Prototypes that separate the classes, so every line has a non-zero gradient.
fl::NamedTensor SomePrototypes(const EncoderSpec& spec) {
  fl::NamedTensor p{"prototypes.global", {2, spec.out_dim}, {}};
  for (int c = 0; c < 2; ++c) {
    for (int d = 0; d < spec.out_dim; ++d) p.values.push_back(c == 0 ? 0.3f : (d % 2 ? -0.4f : 0.2f));
  }
  return p;
}

double Norm(const fl::TensorBundle& b) {
  double s = 0;
  for (const fl::NamedTensor& t : b.tensors) {
    for (float v : t.values) s += static_cast<double>(v) * v;
  }
  return std::sqrt(s);
}

// a - b - c, tensor by tensor (same layout).
double DiffNorm(const fl::TensorBundle& a, const fl::TensorBundle& b, const fl::TensorBundle& c) {
  double s = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    for (size_t j = 0; j < a.tensors[i].values.size(); ++j) {
      const double d = static_cast<double>(a.tensors[i].values[j]) - b.tensors[i].values[j] -
                       c.tensors[i].values[j];
      s += d * d;
    }
  }
  return std::sqrt(s);
}

TEST(DpSupervisedTest, OneLinesClippedGradientDoesNotDependOnTheOtherSampledLines) {
  const EncoderSpec spec = SmallSpec();
  absl::StatusOr<fl::TensorBundle> init = InitialEncoderWeights(spec);
  ASSERT_TRUE(init.ok());
  const fl::NamedTensor protos = SomePrototypes(spec);
  const LineSet lines = SmallLines();
  LineDpOptions dp;
  dp.clip = 0.01;  // small enough that every line's gradient is clipped
  auto sum = [&](std::vector<int64_t> rows) {
    absl::StatusOr<fl::TensorBundle> s =
        DpPerLineClippedSum(spec, *init, &protos, lines, rows, dp, 10.0);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : fl::TensorBundle();
  };
  const fl::TensorBundle anomalous = sum({3});  // line 3: template 3, anomalous
  EXPECT_NEAR(Norm(anomalous), dp.clip, 1e-6);  // clipped to C on its own
  EXPECT_EQ(anomalous.tensors.back().name, "prototypes.global");
  // Its contribution is the same next to any other lines: sum(S + {3}) - sum(S) = sum({3}).
  for (const std::vector<int64_t>& others :
       {std::vector<int64_t>{0}, std::vector<int64_t>{1, 2, 7}, std::vector<int64_t>{5, 11, 40}}) {
    std::vector<int64_t> with = others;
    with.push_back(3);
    EXPECT_LT(DiffNorm(sum(with), sum(others), anomalous), 1e-6);
  }
  // And a normal line's contribution is bounded by C however many lines share the step.
  EXPECT_LE(Norm(sum({0})), dp.clip + 1e-6);
  EXPECT_LE(DiffNorm(sum({0, 1, 2, 3}), sum({1, 2, 3}), sum({0})), 1e-6);
}

TEST(DpSupervisedTest, StratifiedSamplingKeepsEachClassRate) {
  absl::StatusOr<privacy::GaussianSampler> sampler = privacy::GaussianSampler::Create();
  ASSERT_TRUE(sampler.ok());
  std::vector<int> labels;
  for (int i = 0; i < 40000; ++i) labels.push_back(i % 20 == 0 ? 2 : (i % 20 == 1 ? -1 : 0));
  // 2,000 anomalous, 2,000 unlabelled, 36,000 normal lines.
  LineDpOptions dp;
  dp.anomalous_rate = 0.5;
  dp.normal_lines_per_step = 360;
  const StratifiedRates rates = PerLineRates(labels, dp);
  EXPECT_EQ(rates.anomalous, 0.5);
  EXPECT_NEAR(rates.normal, 0.01, 1e-12);
  const std::vector<int64_t> rows =
      StratifiedPoissonSample(labels, rates.anomalous, rates.normal, *sampler);
  int anomalous = 0, normal = 0;
  for (int64_t r : rows) {
    ASSERT_NE(labels[r], -1);
    (labels[r] > 0 ? anomalous : normal) += 1;
  }
  // Binomial(2000, 0.5): sd 22; Binomial(36000, 0.01): sd 19. Bounds at ~6 sd.
  EXPECT_NEAR(anomalous, 1000, 135);
  EXPECT_NEAR(normal, 360, 115);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  // Few normal lines: their rate is capped at the charged (anomalous) rate.
  dp.normal_lines_per_step = 1000000;
  EXPECT_EQ(PerLineRates(labels, dp).normal, 0.5);
}

TEST(DpSupervisedTest, PlannedPhasesComposeOverRoundsAsTheAccountantSays) {
  LineDpOptions dp;
  dp.noise_multiplier = 3.0;
  dp.anomalous_rate = 0.7;
  // Default: no contrastive phase, the per-line phase at q = anomalous_rate whatever the counts.
  std::vector<LineDpPhase> round =
      PlanLineDpRound(dp, /*contrastive_steps=*/30, /*meta_iterations=*/10, 256, 3000, 3000, true);
  ASSERT_EQ(round.size(), 1u);
  EXPECT_EQ(round[0].name, "per_line");
  EXPECT_EQ(round[0].q, 0.7);
  EXPECT_EQ(round[0].steps, 10);
  EXPECT_EQ(PlanLineDpRound(dp, 30, 10, 256, 3000, 0, false).size(), 0u);  // no labels
  // Ten rounds of it are one mechanism of 100 steps (RDP adds order by order).
  const std::vector<LineDpPhase> ten(10, round[0]);
  absl::StatusOr<privacy::EpsilonAtOrder> direct =
      privacy::SampledGaussianEpsilon(0.7, 3.0, 100, 1e-5, privacy::DefaultOrders());
  ASSERT_TRUE(direct.ok());
  EXPECT_NEAR(*LineDpEpsilon(ten, 1e-5), direct->epsilon, 1e-9);
  // With the contrastive phase on, both phases are charged and epsilon grows.
  dp.contrastive = true;
  round = PlanLineDpRound(dp, 30, 10, 256, 3000, 3000, true);
  ASSERT_EQ(round.size(), 2u);
  EXPECT_EQ(round[0].name, "contrastive");
  EXPECT_NEAR(round[0].q, 256.0 / 3000, 1e-15);
  EXPECT_GT(*LineDpEpsilon(round, 1e-5), *LineDpEpsilon({round[1]}, 1e-5));
  // The episodes objective is planned only when meta-learnable.
  dp.labeled_objective = LabeledDpObjective::kEpisodes;
  EXPECT_EQ(PlanLineDpRound(dp, 30, 10, 256, 3000, 3000, false).size(), 1u);
  round = PlanLineDpRound(dp, 30, 10, 256, 3000, 1000, true);
  ASSERT_EQ(round.size(), 2u);
  EXPECT_EQ(round[1].name, "meta");
  EXPECT_NEAR(round[1].q, 256.0 / 1000, 1e-15);
}

TEST(DpSupervisedTest, SiteRoundTrainsPrototypesUnderDpAndKeepsItsLossesLocal) {
  const EncoderSpec spec = SmallSpec();
  absl::StatusOr<fl::TensorBundle> init = InitialEncoderWeights(spec);
  ASSERT_TRUE(init.ok());
  LocalWork work;
  work.contrastive_steps = 3;
  work.meta_iterations = 2;
  work.line_dp.noise_multiplier = 1.0;
  work.line_dp.anomalous_rate = 0.5;
  work.line_dp.normal_lines_per_step = 20;
  absl::StatusOr<SiteRoundResult> r = RunSiteRound(spec, *init, SmallLines(), LineSet(), work);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->line_dp_phases.size(), 1u);  // contrastive steps skipped under DP by default
  EXPECT_EQ(r->line_dp_phases[0].name, "per_line");
  EXPECT_EQ(r->line_dp_phases[0].q, 0.5);
  EXPECT_EQ(r->line_dp_phases[0].steps, 2);
  EXPECT_NEAR(r->line_dp_round_epsilon, *LineDpEpsilon(r->line_dp_phases, 1e-5), 1e-12);
  const fl::NamedTensor* p = r->weights.Find("prototypes.global");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->shape, (std::vector<int64_t>{2, spec.out_dim}));
  std::vector<float> start;  // the documented data-independent start: -/+ 0.5 (1, -1, ...) / sqrt(d)
  for (int c = 0; c < 2; ++c) {
    for (int d = 0; d < spec.out_dim; ++d) {
      start.push_back((c == 0 ? -0.5f : 0.5f) * (d % 2 ? -1.0f : 1.0f) /
                      std::sqrt(static_cast<float>(spec.out_dim)));
    }
  }
  ASSERT_EQ(p->values.size(), start.size());
  double moved = 0;
  for (size_t i = 0; i < start.size(); ++i) moved += std::abs(p->values[i] - start[i]);
  EXPECT_GT(moved, 1e-4);  // trained from that start
  EXPECT_LT(moved, 2 * spec.out_dim * 2 * 2e-3);  // two Adam steps of ~1e-3 per coordinate
  for (const fl::NamedTensor& t : r->weights.tensors) {
    EXPECT_FALSE(t.name.find("adapter.S.prototypes") == 0) << t.name;
  }
  // The default scope trains only the adapters and the prototypes (below for both scopes).
  EXPECT_EQ(r->weights.Find("out.weight")->values, init->Find("out.weight")->values);
  EXPECT_EQ(r->metrics.count("train_meta_loss"), 0u);
  EXPECT_EQ(r->local_only.count("train_meta_loss"), 1u);
  EXPECT_EQ(r->meta_loss, 0.0);
  EXPECT_EQ(r->distinct_templates, 0);  // exact statistics of the lines are withheld under DP
  EXPECT_EQ(r->imbalance_ratio, 1.0);
  // The next round starts from the trained prototypes it is given.
  fl::TensorBundle next = r->weights;
  absl::StatusOr<SiteRoundResult> r2 = RunSiteRound(spec, next, SmallLines(), LineSet(), work);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_NE(r2->weights.Find("prototypes.global")->values, p->values);
}

// Scope kAdapters: every tensor outside the adapters and prototypes.global leaves the round exactly
// as it came (so its update is exactly zero), the clipped sum covers only the trained tensors, and
// the round is charged the same mechanism as scope kAll (the accountant does not depend on it).
TEST(DpSupervisedTest, AdapterScopeLeavesTheEncoderExactlyAndIsChargedTheSame) {
  const EncoderSpec spec = SmallSpec();
  absl::StatusOr<fl::TensorBundle> init = InitialEncoderWeights(spec);
  ASSERT_TRUE(init.ok());
  LocalWork work;
  work.meta_iterations = 3;
  work.line_dp.noise_multiplier = 1.0;
  work.line_dp.normal_lines_per_step = 20;
  ASSERT_EQ(work.line_dp.scope, DpScope::kAdapters);  // the default
  absl::StatusOr<SiteRoundResult> few = RunSiteRound(spec, *init, SmallLines(), LineSet(), work);
  ASSERT_TRUE(few.ok()) << few.status();
  work.line_dp.scope = DpScope::kAll;
  absl::StatusOr<SiteRoundResult> all = RunSiteRound(spec, *init, SmallLines(), LineSet(), work);
  ASSERT_TRUE(all.ok()) << all.status();
  int trained = 0, frozen = 0;
  for (const fl::NamedTensor& t : init->tensors) {
    const fl::NamedTensor* f = few->weights.Find(t.name);
    const fl::NamedTensor* a = all->weights.Find(t.name);
    ASSERT_NE(f, nullptr) << t.name;
    ASSERT_NE(a, nullptr) << t.name;
    if (t.name.rfind("adapter.", 0) == 0) {
      EXPECT_NE(f->values, t.values) << t.name;  // trained (noise on every coordinate)
      ++trained;
    } else if (t.name.rfind("head.", 0) != 0) {
      EXPECT_EQ(f->values, t.values) << t.name;  // bit for bit the start
      EXPECT_NE(a->values, t.values) << t.name;  // scope all trains it
      ++frozen;
    }
  }
  EXPECT_GT(trained, 0);
  EXPECT_GT(frozen, 0);
  EXPECT_NE(few->weights.Find("prototypes.global"), nullptr);
  ASSERT_EQ(few->line_dp_phases.size(), 1u);
  ASSERT_EQ(all->line_dp_phases.size(), 1u);
  EXPECT_EQ(few->line_dp_phases[0].q, all->line_dp_phases[0].q);
  EXPECT_EQ(few->line_dp_phases[0].sigma, all->line_dp_phases[0].sigma);
  EXPECT_EQ(few->line_dp_phases[0].steps, all->line_dp_phases[0].steps);
  EXPECT_EQ(few->line_dp_round_epsilon, all->line_dp_round_epsilon);

  // The clipped sum covers exactly the adapters and the prototypes, still at most C per line.
  const fl::NamedTensor protos = SomePrototypes(spec);
  LineDpOptions dp;
  dp.clip = 0.01;
  absl::StatusOr<fl::TensorBundle> sum =
      DpPerLineClippedSum(spec, *init, &protos, SmallLines(), {3}, dp, 10.0);
  ASSERT_TRUE(sum.ok()) << sum.status();
  for (const fl::NamedTensor& t : sum->tensors) {
    EXPECT_TRUE(t.name.rfind("adapter.", 0) == 0 || t.name == "prototypes.global") << t.name;
  }
  EXPECT_EQ(sum->tensors.back().name, "prototypes.global");
  EXPECT_NEAR(Norm(*sum), dp.clip, 1e-6);
}

TEST(DpSupervisedTest, ScopeNames) {
  EXPECT_EQ(*ParseDpScope("adapters"), DpScope::kAdapters);
  EXPECT_EQ(*ParseDpScope("all"), DpScope::kAll);
  EXPECT_EQ(ParseDpScope("encoder").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_STREQ(DpScopeName(DpScope::kAdapters), "adapters");
  EXPECT_STREQ(DpScopeName(DpScope::kAll), "all");
}

}  // namespace
}  // namespace fedlog::model
