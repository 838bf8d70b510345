// The session Transformer: a supervised toy rule, next-event prediction on a cyclic grammar, and
// weights.
#include <random>

#include "common/model/session_detector.h"
#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

SessionSpec ToySpec() {
  SessionSpec spec;
  spec.num_templates = 12;
  spec.d_model = 32;
  spec.heads = 4;
  spec.layers = 1;
  spec.ff_dim = 64;
  spec.max_len = 16;
  spec.dropout = 0.0f;
  spec.init_seed = 2;
  return spec;
}

// Random sessions over templates 0..9; anomalous exactly when template 3 is directly followed by 7.
std::vector<std::vector<int64_t>> RuleSessions(int n, uint64_t seed, std::vector<int>* labels) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> id(0, 9);
  std::uniform_int_distribution<int> len(4, 12);
  std::vector<std::vector<int64_t>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> s(static_cast<size_t>(len(rng)));
    for (auto& e : s) e = id(rng);
    for (size_t t = 0; t + 1 < s.size(); ++t) {
      if (s[t] == 3 && s[t + 1] == 7) s[t + 1] = 8;  // start from a clean session
    }
    if (i % 2 == 1) {
      size_t at = std::uniform_int_distribution<size_t>(0, s.size() - 2)(rng);
      s[at] = 3;
      s[at + 1] = 7;
    }
    labels->push_back(i % 2);
    out.push_back(std::move(s));
  }
  return out;
}

TEST(SessionModelTest, ClassifierLearnsAToySequenceRule) {
  SessionSpec spec = ToySpec();
  auto w0 = InitialSessionWeights(spec);
  ASSERT_TRUE(w0.ok()) << w0.status();
  std::vector<int> labels, test_labels;
  auto train = RuleSessions(512, 1, &labels);
  auto test = RuleSessions(64, 2, &test_labels);
  SessionTrainOptions o;
  o.epochs = 40;
  o.batch_size = 32;
  o.learning_rate = 3e-3f;
  o.runtime.seed = 3;
  auto r = TrainSessionClassifier(spec, *w0, train, labels, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->final_loss, r->initial_loss);
  auto p = ScoreSessions(spec, r->weights, test, {});
  ASSERT_TRUE(p.ok()) << p.status();
  int correct = 0;
  for (size_t i = 0; i < p->size(); ++i) correct += ((*p)[i] >= 0.5f) == (test_labels[i] == 1);
  EXPECT_GE(correct, 54) << "chance is 32; accuracy " << correct << "/64";
}

TEST(SessionModelTest, NextEventFlagsBrokenCyclesWithTopG) {
  SessionSpec spec = ToySpec();
  auto w0 = InitialSessionWeights(spec);
  std::mt19937_64 rng(4);
  std::vector<std::vector<int64_t>> normal;
  for (int i = 0; i < 96;
       ++i) {  // 0 1 2 3 4 5 0 1 ... from a random phase; long ones span two windows
    std::vector<int64_t> s;
    const int64_t start = static_cast<int64_t>(rng() % 6);
    const int length = 6 + static_cast<int>(rng() % 20);
    for (int t = 0; t < length; ++t) s.push_back((start + t) % 6);
    normal.push_back(std::move(s));
  }
  SessionTrainOptions o;
  o.epochs = 15;
  o.batch_size = 16;
  o.learning_rate = 3e-3f;
  auto r = TrainNextEvent(spec, *w0, normal, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->final_loss, r->initial_loss * 0.5);
  std::vector<std::vector<int64_t>> probe = {{0, 1, 2, 3, 4, 5, 0, 1},
                                             {2, 3, 4, 5, 0, 1, 2, 3},
                                             {0, 1, 2, 5, 4, 5, 0, 1},
                                             {3, 4, 5, 0, 11, 2, 3, 4},
                                             {1, 2, 3, 4, 99, 0, 1, 2}};
  auto scores = ScoreNextEvent(spec, r->weights, probe, /*top_g=*/1, {});
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_FALSE((*scores)[0].anomalous);
  EXPECT_FALSE((*scores)[1].anomalous);
  for (int i = 2; i < 5; ++i) {
    EXPECT_TRUE((*scores)[i].anomalous) << i;
    EXPECT_GT((*scores)[i].score, (*scores)[0].score) << i;
  }
  EXPECT_EQ(ScoreNextEvent(spec, r->weights, probe, 0, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SessionModelTest, WeightsAreNamedAndValidated) {
  SessionSpec spec = ToySpec();
  auto w = InitialSessionWeights(spec);
  ASSERT_TRUE(w.ok());
  EXPECT_NE(w->Find("tok.weight"), nullptr);
  EXPECT_NE(w->Find("cls.weight"), nullptr);
  EXPECT_EQ(w->Find("next.weight")->shape, (std::vector<int64_t>{13, 32}));
  EXPECT_EQ(InitialSessionWeights(spec)->Find("pos.weight")->values, w->Find("pos.weight")->values);
  SessionSpec bad = spec;
  bad.heads = 5;
  EXPECT_EQ(InitialSessionWeights(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ScoreSessions(spec, *w, {{}}, {}).ok());
  std::vector<int> labels = {2};
  EXPECT_FALSE(TrainSessionClassifier(spec, *w, {{1, 2}}, labels, {}).ok());
}

}  // namespace
}  // namespace fedlog::model
