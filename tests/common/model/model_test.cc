#include <cmath>
#include <random>

#include "common/fl/bundle_codec.h"
#include "common/model/local_trainer.h"
#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

// Rows that live on a low-dimensional pattern, so an autoencoder can learn them.
DenseMatrix Patterned(int rows, int cols, uint64_t seed) {
  DenseMatrix x(rows, cols);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(0, 3);
  for (int r = 0; r < rows; ++r) {
    int k = pick(rng);
    for (int c = 0; c < cols; ++c) x.Row(r)[c] = (c % 4 == k) ? 1.0f : 0.0f;
  }
  return x;
}

MlpSpec Spec() {
  MlpSpec s;
  s.input_dim = 16;
  s.hidden = {8, 4};
  s.init_seed = 3;
  return s;
}

TEST(LocalTrainerTest, InitialWeightsAreDeterministicAndNamed) {
  auto a = InitialWeights(Spec());
  auto b = InitialWeights(Spec());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  EXPECT_EQ(a->tensors[0].name, "encoder.0.weight");
  EXPECT_EQ(a->tensors[0].values, b->tensors[0].values);
  MlpSpec other = Spec();
  other.init_seed = 4;
  EXPECT_NE(InitialWeights(other)->tensors[0].values, a->tensors[0].values);
}

TEST(LocalTrainerTest, TrainingReducesLossAndIsReproducible) {
  auto w0 = InitialWeights(Spec());
  ASSERT_TRUE(w0.ok());
  DenseMatrix x = Patterned(256, 16, 1);
  TrainOptions opts;
  opts.epochs = 20;
  opts.learning_rate = 1e-2f;
  opts.batch_size = 32;
  opts.seed = 9;
  auto r1 = Train(Spec(), *w0, x, opts);
  auto r2 = Train(Spec(), *w0, x, opts);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_LT(r1->final_loss, r1->initial_loss * 0.5);
  EXPECT_EQ(r1->samples, 256);
  EXPECT_EQ(r1->steps, 20 * 8);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r1->weights.tensors[0].values, r2->weights.tensors[0].values);
}

TEST(LocalTrainerTest, ScoresSeparateSeenFromUnseenPatterns) {
  auto w0 = InitialWeights(Spec());
  DenseMatrix x = Patterned(256, 16, 2);
  TrainOptions opts;
  opts.epochs = 30;
  opts.learning_rate = 1e-2f;
  auto trained = Train(Spec(), *w0, x, opts);
  ASSERT_TRUE(trained.ok());
  DenseMatrix odd(1, 16);
  for (int c = 0; c < 16; ++c) odd.Row(0)[c] = (c % 3 == 0) ? 1.0f : 0.0f;
  auto normal = Score(Spec(), trained->weights, Patterned(8, 16, 5));
  auto anomalous = Score(Spec(), trained->weights, odd);
  ASSERT_TRUE(normal.ok() && anomalous.ok());
  ASSERT_EQ(normal->size(), 8u);
  for (float s : *normal) EXPECT_LT(s, (*anomalous)[0]);
}

TEST(LocalTrainerTest, SaveLoadThroughBundleIsBitExact) {
  auto w0 = InitialWeights(Spec());
  auto bytes = fl::EncodeBundle(*w0);
  ASSERT_TRUE(bytes.ok());
  auto back = fl::DecodeBundle(*bytes);
  ASSERT_TRUE(back.ok());
  DenseMatrix x = Patterned(4, 16, 3);
  EXPECT_EQ(*Score(Spec(), *w0, x), *Score(Spec(), *back, x));
}

TEST(LocalTrainerTest, ClearErrorsForBadInput) {
  auto w0 = InitialWeights(Spec());
  EXPECT_EQ(Train(Spec(), *w0, DenseMatrix(4, 15), {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Train(Spec(), *w0, DenseMatrix(0, 16), {}).status().code(), absl::StatusCode::kFailedPrecondition);
  MlpSpec bad = Spec();
  bad.input_dim = 0;
  EXPECT_FALSE(InitialWeights(bad).ok());
  fl::TensorBundle wrong = *w0;
  wrong.tensors.pop_back();
  EXPECT_FALSE(Score(Spec(), wrong, DenseMatrix(1, 16)).ok());
  EXPECT_EQ(ResolveDevice("tpu").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ResolveDevice("cpu"), "cpu");
  auto resolved = ResolveDevice("auto");
  ASSERT_TRUE(resolved.ok());
  EXPECT_TRUE(*resolved == "cpu" || *resolved == "cuda");
}

}  // namespace
}  // namespace fedlog::model
