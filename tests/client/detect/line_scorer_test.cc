// The torch-free LineScorer against the torch reference (model::ScoreFewShot).
#include "common/model/line_scorer.h"

#include <random>

#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::model {
namespace {

using client::detect::testing::SmallSpec;
using client::detect::testing::SmallWeights;

FewShotModel MakeModel(const EncoderSpec& spec, uint64_t seed) {
  FewShotModel m;
  m.weights = SmallWeights(spec, seed);
  const fl::NamedTensor* p = m.weights.Find("prototypes.global");
  m.prototypes = DenseMatrix(2, spec.out_dim);
  m.prototypes.data = p->values;
  // The encoder's layout only: prototypes travel in FewShotModel::prototypes.
  m.weights.tensors.pop_back();
  m.distance_scale = 7.5f;
  m.platt.a = 0.8;
  m.platt.b = -0.3;
  return m;
}

LineSet RandomLines(const EncoderSpec& spec, int n, const std::vector<std::string>& sources) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> tok(1, 1 << 16);
  std::normal_distribution<float> d(0, 1.5f);
  LineSet lines;
  lines.dense = DenseMatrix(n, spec.dense_dim);
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> t(static_cast<size_t>(i % 9));  // includes empty token lists
    for (auto& x : t) x = tok(rng);
    lines.tokens.push_back(t);
    for (int c = 0; c < spec.dense_dim; ++c)
      lines.dense.Row(i)[c] = (i + c) % 3 == 0 ? 0.0f : d(rng);
    lines.sources.push_back(sources[static_cast<size_t>(i) % sources.size()]);
  }
  return lines;
}

TEST(LineScorerTest, MatchesTorchScoresWithAndWithoutAdapter) {
  const EncoderSpec spec = SmallSpec(12, {"HDFS", "BGL"});
  const FewShotModel model = MakeModel(spec, 3);
  const LineSet lines = RandomLines(spec, 200, {"HDFS", "BGL", ""});
  auto want = ScoreFewShot(spec, model, lines, RuntimeOptions{});
  ASSERT_TRUE(want.ok()) << want.status();
  auto scorer = LineScorer::Create(spec, model);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  // Twice: the second pass is served by the token cache and must agree as well.
  for (int pass = 0; pass < 2; ++pass) {
    auto got = scorer->ScoreLines(lines);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i)
      EXPECT_NEAR((*got)[i], (*want)[i], 1e-4) << "line " << i;
  }
  EXPECT_GT(scorer->cache_size(), 0);
  // Scores actually vary (a constant scorer would match a constant reference too).
  float lo = 1, hi = 0;
  for (float s : *want) lo = std::min(lo, s), hi = std::max(hi, s);
  EXPECT_GT(hi - lo, 1e-3);
}

TEST(LineScorerTest, MatchesWithNearestSupportPrototypes) {
  const EncoderSpec spec = SmallSpec(12, {"HDFS"});
  FewShotModel model = MakeModel(spec, 5);
  // Five prototypes, classes interleaved: a line's distance to a class is to its nearest one.
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0, 0.3f);
  model.prototypes = DenseMatrix(5, spec.out_dim);
  for (float& v : model.prototypes.data) v = d(rng);
  model.prototype_labels = {0, 1, 0, 1, 1};
  const LineSet lines = RandomLines(spec, 120, {"HDFS", ""});
  auto want = ScoreFewShot(spec, model, lines, RuntimeOptions{});
  ASSERT_TRUE(want.ok()) << want.status();
  auto scorer = LineScorer::Create(spec, model);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  auto got = scorer->ScoreLines(lines);
  ASSERT_TRUE(got.ok());
  for (size_t i = 0; i < got->size(); ++i) EXPECT_NEAR((*got)[i], (*want)[i], 1e-4) << "line " << i;
  model.prototype_labels = {0, 0, 0, 0, 0};  // no anomalous prototype
  EXPECT_EQ(LineScorer::Create(spec, model).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LineScorerTest, MatchesWithTwoHiddenLayers) {
  EncoderSpec spec = SmallSpec(5, {"X"});
  spec.hidden = {24, 12};
  const FewShotModel model = MakeModel(spec, 11);
  const LineSet lines = RandomLines(spec, 50, {"X"});
  auto want = ScoreFewShot(spec, model, lines, RuntimeOptions{});
  ASSERT_TRUE(want.ok()) << want.status();
  auto scorer = LineScorer::Create(spec, model);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  auto got = scorer->ScoreLines(lines);
  ASSERT_TRUE(got.ok());
  for (size_t i = 0; i < got->size(); ++i) EXPECT_NEAR((*got)[i], (*want)[i], 1e-4) << "line " << i;
}

TEST(LineScorerTest, RejectsIncompleteModels) {
  const EncoderSpec spec = SmallSpec(4, {"HDFS"});
  FewShotModel model = MakeModel(spec, 1);
  model.weights.tensors.erase(model.weights.tensors.begin());
  EXPECT_FALSE(LineScorer::Create(spec, model).ok());
  FewShotModel no_protos = MakeModel(spec, 1);
  no_protos.prototypes = DenseMatrix();
  EXPECT_FALSE(LineScorer::Create(spec, no_protos).ok());
}

}  // namespace
}  // namespace fedlog::model
