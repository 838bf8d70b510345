#include "common/classic/xgboost_model.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::classic {
namespace {

XgboostOptions Opts(int rounds, int max_depth, uint64_t seed) {
  XgboostOptions o;
  o.rounds = rounds;
  o.max_depth = max_depth;
  o.seed = seed;
  return o;
}

// The rule: anomalous iff x0 > 0.5 and x2 < 0.3 (an interaction a linear model cannot express); x1
// is noise.
void RuleData(int n, uint64_t seed, DenseMatrix* x, std::vector<int>* y) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  *x = DenseMatrix(n, 3);
  y->resize(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) x->Row(i)[j] = u(rng);
    (*y)[i] = x->Row(i)[0] > 0.5f && x->Row(i)[2] < 0.3f;
  }
}

TEST(XgboostModelTest, LearnsToyRule) {
  DenseMatrix x, test;
  std::vector<int> y, ty;
  RuleData(2000, 1, &x, &y);
  RuleData(500, 2, &test, &ty);
  XgboostModel model(Opts(30, 3, 3));
  ASSERT_TRUE(model.Fit(x, y, {}).ok());
  auto s = model.Score(test);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 500u);
  int correct = 0;
  for (size_t i = 0; i < ty.size(); ++i) correct += ((*s)[i] >= 0.5) == (ty[i] == 1);
  EXPECT_GE(correct, 485);
  auto gain = model.GainImportance();
  ASSERT_TRUE(gain.ok());
  ASSERT_EQ(gain->size(), 3u);
  EXPECT_GT((*gain)[0], 5 * (*gain)[1]);
  EXPECT_GT((*gain)[2], 5 * (*gain)[1]);
}

TEST(XgboostModelTest, SameSeedSameScoresAndJsonRoundTrip) {
  DenseMatrix x;
  std::vector<int> y;
  RuleData(500, 4, &x, &y);
  XgboostModel a(Opts(10, 6, 9)), b(Opts(10, 6, 9));
  ASSERT_TRUE(a.Fit(x, y, {}).ok());
  ASSERT_TRUE(b.Fit(x, y, {}).ok());
  EXPECT_EQ(*a.Score(x), *b.Score(x));
  auto json = a.SaveJson();
  ASSERT_TRUE(json.ok());
  auto c = XgboostModel::LoadJson(*json, 3);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->Score(x), *a.Score(x));
}

TEST(XgboostModelTest, BadInputGivesStatus) {
  XgboostModel model(Opts(2, 6, 0));
  DenseMatrix x(4, 2);
  x.data = {0, 1, 1, 0, 0, 0, 1, 1};
  EXPECT_EQ(model.Score(x).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(model.Fit(x, std::vector<int>{0, 1}, {}).ok());        // size mismatch
  EXPECT_FALSE(model.Fit(x, std::vector<int>{0, 0, 0, 0}, {}).ok());  // one class
  // A parameter XGBoost itself rejects comes back as a Status, not an exception or abort.
  XgboostOptions bad_options = Opts(2, 6, 0);
  bad_options.extra_params = {{"max_depth", "-3"}};
  XgboostModel bad(bad_options);
  absl::Status s = bad.Fit(x, std::vector<int>{0, 1, 0, 1}, {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("xgboost"), std::string::npos) << s;
  ASSERT_TRUE(model.Fit(x, std::vector<int>{0, 1, 0, 1}, {}).ok());
  EXPECT_EQ(model.Score(DenseMatrix(2, 5)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(XgboostModel::LoadJson("not a model", 2).ok());
}

}  // namespace
}  // namespace fedlog::classic
