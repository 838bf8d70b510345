// Torch-free pieces of the learning core: calibration, threshold choice, episodes and augmentation.
#include "common/model/calibration.h"

#include <cmath>
#include <set>

#include "common/model/augment.h"
#include "common/model/episodes.h"
#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

TEST(CalibrationTest, PlattRecoversAKnownSigmoid) {
  // Labels drawn deterministically from p = sigmoid(2 s - 1) on a fine grid: the fit must land near
  // (2, -1).
  std::vector<float> scores;
  std::vector<int> labels;
  for (int i = 0; i < 4000; ++i) {
    const double s = -4.0 + 8.0 * i / 4000.0;
    const double p = 1.0 / (1.0 + std::exp(-(2 * s - 1)));
    scores.push_back(static_cast<float>(s));
    labels.push_back(std::fmod(i * 0.618034, 1.0) < p ? 1 : 0);
  }
  auto fit = FitPlatt(scores, labels);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->a, 2.0, 0.2);
  EXPECT_NEAR(fit->b, -1.0, 0.2);
  EXPECT_FALSE(FitPlatt({1, 2}, {1, 1}).ok());
}

TEST(CalibrationTest, PlattStaysFiniteOnSeparableData) {
  auto fit = FitPlatt({-2, -1, 1, 2}, {0, 0, 1, 1});
  ASSERT_TRUE(fit.ok());
  EXPECT_GT(fit->a, 0);
  EXPECT_TRUE(std::isfinite(fit->a));
}

TEST(CalibrationTest, PlattFitsARareSeparableClass) {
  // A line site whose anomalous class comes from the federation's prototypes: 994 normal validation
  // scores near -11 (up to 0.4) and 5 anomalous ones in [1.3, 4.5], as BGL site-1 gave with its
  // anomalous labels withheld. The fit must reach the log-loss minimum (gradient ~0), rank as the
  // scores do and give the anomalous lines the higher probabilities; a fit that saturates returns 0
  // for all of them.
  std::vector<float> scores;
  std::vector<int> labels;
  for (int i = 0; i < 994; ++i) {
    scores.push_back(i == 0 ? 0.376f : -11.0f - 0.001f * static_cast<float>(i % 100));
    labels.push_back(0);
  }
  for (float s : {1.34f, 2.1f, 2.6f, 3.0f, 4.5f}) {
    scores.push_back(s);
    labels.push_back(1);
  }
  auto fit = FitPlatt(scores, labels);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_GT(fit->a, 0);
  const double t_pos = 6.0 / 7.0, t_neg = 1.0 / 996.0;
  double g_a = 0, g_b = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const double r = fit->Apply(scores[i]) - (labels[i] > 0 ? t_pos : t_neg);
    g_a += r * scores[i];
    g_b += r;
  }
  EXPECT_NEAR(g_a, 0, 1e-4);
  EXPECT_NEAR(g_b, 0, 1e-4);
  EXPECT_GT(fit->Apply(1.34), 0.5);
  EXPECT_LT(fit->Apply(0.376), fit->Apply(1.34));
  EXPECT_LT(fit->Apply(-11.0), 1e-3);
}

TEST(CalibrationTest, MaxF1ThresholdPicksTheBestCut) {
  // Cut at 0.7: tp 2, fp 0, fn 1 -> F1 0.8. Cut at 0.3: tp 3, fp 1 -> F1 6/7 (best). Cut at 0.1:
  // 0.75.
  std::vector<float> p = {0.9f, 0.7f, 0.5f, 0.3f, 0.1f};
  std::vector<int> y = {1, 1, 0, 1, 0};
  auto t = MaxF1Threshold(p, y);
  ASSERT_TRUE(t.ok());
  EXPECT_FLOAT_EQ(t->threshold, 0.3f);
  EXPECT_NEAR(t->f1, 6.0 / 7.0, 1e-9);
  EXPECT_FALSE(MaxF1Threshold({0.5f}, {0}).ok());
}

LineSet Labeled() {
  LineSet lines;
  auto add = [&](const std::string& source, int label, int count) {
    for (int i = 0; i < count; ++i) {
      lines.tokens.push_back({static_cast<int64_t>(lines.tokens.size())});
      lines.sources.push_back(source);
      lines.labels.push_back(label);
    }
  };
  add("A", 0, 40);
  add("A", 1, 10);
  add("A", 2, 3);
  add("B", 0, 60);
  add("B", 1, 1);  // a single line cannot be both support and query: B has one usable class
  add("C", 0, 30);
  add("C", 1, 2);
  return lines;
}

TEST(EpisodesTest, EpisodesHaveTheRequestedShapeWithoutOverlap) {
  EpisodeOptions e;
  e.n_way = 2;
  e.n_query = 4;
  auto sampler =
      EpisodeSampler::Create(Labeled(), {{"A", 4.0}, {"C", 15.0}}, e, CurriculumOptions(), 3);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  EXPECT_EQ(sampler->Eligible(0), (std::vector<std::string>{"A"}));
  EXPECT_EQ(sampler->Eligible(1), (std::vector<std::string>{"A", "C"}));
  for (int i = 0; i < 20; ++i) {
    Episode ep = sampler->Sample(0);
    ASSERT_EQ(ep.source, "A");
    ASSERT_EQ(ep.classes.size(), 2u);
    EXPECT_EQ(ep.classes[0], 0);
    EXPECT_EQ(std::count(ep.support_labels.begin(), ep.support_labels.end(), 0), 10);
    // Class 2 has 3 lines: at most 2 support so one is left for the query side.
    EXPECT_EQ(std::count(ep.support_labels.begin(), ep.support_labels.end(), 1),
              ep.classes[1] == 1 ? 5 : 2);
    std::set<int64_t> all(ep.support.begin(), ep.support.end());
    for (int64_t q : ep.query) EXPECT_TRUE(all.insert(q).second) << "query overlaps support";
    EXPECT_EQ(std::count(ep.query_labels.begin(), ep.query_labels.end(), 0), 4);
  }
  EXPECT_EQ(sampler->Phase(0, 30), 0);
  EXPECT_EQ(sampler->Phase(10, 30), 1);
  EXPECT_EQ(sampler->Phase(29, 30), 2);
  EXPECT_EQ(sampler->Sample(2).classes.size(), 2u);
}

TEST(EpisodesTest, RejectsDataWithoutTwoUsableClasses) {
  LineSet lines;
  lines.tokens = {{1}, {2}, {3}};
  lines.labels = {0, 0, 1};
  EXPECT_EQ(EpisodeSampler::Create(lines, {}, {}, {}, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(AugmentTest, ViewsDropAndResampleTokensButKeepMetadata) {
  LineSet lines;
  lines.tokens = {{1, 2, 3, 4, 5, 6, 7, 8}, {9}};
  lines.dense = DenseMatrix(2, 2);
  lines.template_ids = {4, 5};
  AugmentOptions o;
  o.token_dropout = 0.5f;
  o.token_resample = 0.0f;
  std::mt19937_64 rng(1);
  LineSet v = AugmentView(lines, o, 100, rng);
  EXPECT_LT(v.tokens[0].size(), 8u);
  EXPECT_GE(v.tokens[0].size(), 1u);
  EXPECT_EQ(v.tokens[1].size(), 1u);
  EXPECT_EQ(v.template_ids, lines.template_ids);
  EXPECT_NE(v.dense.data, lines.dense.data);
  std::mt19937_64 same(1);
  EXPECT_EQ(AugmentView(lines, o, 100, same).tokens, v.tokens);
}

}  // namespace
}  // namespace fedlog::model
