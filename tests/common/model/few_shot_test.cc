// Few-shot adaptation with nearest-support prototypes (model::PrototypeMode::kNearestSupport):
// prototype layout, the 1-nearest-neighbour rule on the support lines, leave-one-out calibration
// and the checks on hand-made models.
#include <algorithm>
#include <cstdlib>
#include <random>

#include "common/model/contrastive_trainer.h"
#include "common/model/few_shot.h"
#include "gtest/gtest.h"

namespace fedlog::model {
namespace {

// FEDLOG_TEST_DEVICE=cuda runs these tests on a GPU machine's device (default cpu).
RuntimeOptions Runtime() {
  RuntimeOptions r;
  const char* device = std::getenv("FEDLOG_TEST_DEVICE");
  if (device != nullptr && *device != '\0') r.device = device;
  return r;
}

EncoderSpec Spec() {
  EncoderSpec spec;
  spec.vocab_buckets = 512;
  spec.token_dim = 16;
  spec.dense_dim = 3;
  spec.hidden = {32};
  spec.out_dim = 16;
  spec.adapter_dim = 4;
  spec.head_dim = 16;
  spec.sources = {"A"};
  spec.init_seed = 5;
  return spec;
}

// `per_template` lines of each template; template t owns three tokens and a dense pattern, and its
// lines are anomalous when t is in `anomalous`. Lines of a template differ only in a parameter
// token, so an encoder maps them close together.
LineSet Lines(int templates, int per_template, const std::vector<int>& anomalous, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> param(400, 511);
  LineSet lines;
  const int64_t rows = static_cast<int64_t>(templates) * per_template;
  lines.dense = DenseMatrix(rows, 3);
  int64_t r = 0;
  for (int t = 0; t < templates; ++t) {
    for (int i = 0; i < per_template; ++i, ++r) {
      lines.tokens.push_back({t * 11 % 397, (t * 11 + 3) % 397, (t * 29 + 7) % 397, param(rng)});
      lines.sources.push_back("A");
      lines.template_ids.push_back(t);
      const bool bad = std::find(anomalous.begin(), anomalous.end(), t) != anomalous.end();
      lines.labels.push_back(bad ? 1 : 0);
      for (int c = 0; c < 3; ++c) lines.dense.Row(r)[c] = static_cast<float>((t + c) % 3) - 1.0f;
    }
  }
  return lines;
}

std::vector<int64_t> Rows(int n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = i;
  return out;
}

TEST(NearestSupportTest, EverySupportLineIsAPrototypeOfItsClass) {
  const EncoderSpec spec = Spec();
  auto w = InitialEncoderWeights(spec);
  ASSERT_TRUE(w.ok());
  // Classes made of several templates each: normal 0, 2, 4; anomalous 1, 3.
  const LineSet support = Lines(5, 2, {1, 3}, 1);
  AdaptOptions o;
  o.runtime = Runtime();
  o.prototypes = PrototypeMode::kNearestSupport;
  auto m = Adapt(spec, *w, support, DenseMatrix(), LineSet(), o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->prototypes.rows, 10);
  EXPECT_EQ(m->prototype_labels, (std::vector<int>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));  // by class
  EXPECT_TRUE(CheckPrototypes(*m, spec.out_dim).ok());
  // 1-nearest-neighbour: each support line is its own nearest prototype, so on the support set
  // every anomalous line outranks every normal one, whatever the embedding looks like.
  auto s = ScoreFewShot(spec, *m, support, Runtime());
  ASSERT_TRUE(s.ok()) << s.status();
  float max_normal = 0, min_anomalous = 1;
  for (size_t i = 0; i < s->size(); ++i) {
    if (support.labels[i] == 0) max_normal = std::max(max_normal, (*s)[i]);
    if (support.labels[i] == 1) min_anomalous = std::min(min_anomalous, (*s)[i]);
  }
  EXPECT_LT(max_normal, min_anomalous);
  // Without a validation set the threshold comes from leave-one-out scores of the support lines.
  EXPECT_GE(m->validation_f1, 0.0);
  EXPECT_GT(m->threshold, 0.0f);
  EXPECT_LT(m->threshold, 1.0f);
}

TEST(NearestSupportTest, NewLinesOfASupportTemplateTakeItsClass) {
  const EncoderSpec spec = Spec();
  auto w = InitialEncoderWeights(spec);
  ASSERT_TRUE(w.ok());
  const LineSet all = Lines(6, 6, {1, 4}, 2);
  // Support: the first two lines of every template; the other four of each are new lines.
  std::vector<int64_t> support_rows, test_rows;
  for (int64_t r = 0; r < all.size(); ++r) (r % 6 < 2 ? support_rows : test_rows).push_back(r);
  const LineSet support = SelectLines(all, support_rows);
  const LineSet test = SelectLines(all, test_rows);
  AdaptOptions o;
  o.runtime = Runtime();
  o.prototypes = PrototypeMode::kNearestSupport;
  auto m = Adapt(spec, *w, support, DenseMatrix(), LineSet(), o);
  ASSERT_TRUE(m.ok()) << m.status();
  auto s = ScoreFewShot(spec, *m, test, Runtime());
  ASSERT_TRUE(s.ok()) << s.status();
  int correct = 0;
  for (size_t i = 0; i < s->size(); ++i) {
    correct += ((*s)[i] >= m->threshold) == (test.labels[i] == 1);
  }
  EXPECT_EQ(correct, static_cast<int>(s->size()));
}

TEST(NearestSupportTest, CapsPrototypesPerClassAndFillsAMissingClass) {
  const EncoderSpec spec = Spec();
  auto w = InitialEncoderWeights(spec);
  ASSERT_TRUE(w.ok());
  AdaptOptions o;
  o.runtime = Runtime();
  o.prototypes = PrototypeMode::kNearestSupport;
  o.max_prototypes_per_class = 3;
  const LineSet support = Lines(4, 5, {3}, 3);  // 15 normal, 5 anomalous lines
  auto m = Adapt(spec, *w, support, DenseMatrix(), LineSet(), o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->prototype_labels, (std::vector<int>{0, 0, 0, 1, 1, 1}));
  // Only normal lines: the anomalous class comes from the global prototypes.
  DenseMatrix global(2, spec.out_dim);
  for (int64_t i = 0; i < global.cols; ++i) global.Row(1)[i] = 1.0f;
  const LineSet normal_only = SelectLines(support, Rows(15));
  auto g = Adapt(spec, *w, normal_only, global, LineSet(), o);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->used_global_prototypes);
  EXPECT_EQ(g->prototype_labels, (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(g->threshold, 0.5f);  // one class only: nothing to calibrate on
  o.max_prototypes_per_class = 0;
  EXPECT_EQ(Adapt(spec, *w, support, DenseMatrix(), LineSet(), o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NearestSupportTest, ClassMeansKeepTwoPrototypes) {
  const EncoderSpec spec = Spec();
  auto w = InitialEncoderWeights(spec);
  ASSERT_TRUE(w.ok());
  AdaptOptions o;
  o.runtime = Runtime();
  o.prototypes = PrototypeMode::kClassMean;
  auto m = Adapt(spec, *w, Lines(4, 3, {2}, 4), DenseMatrix(), LineSet(), o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->prototypes.rows, 2);
  EXPECT_EQ(m->prototype_labels, (std::vector<int>{0, 1}));
  EXPECT_EQ(m->validation_f1, -1);  // class means: no threshold from the (fitted) support set
}

TEST(NearestSupportTest, ScoringRejectsInconsistentPrototypes) {
  const EncoderSpec spec = Spec();
  auto w = InitialEncoderWeights(spec);
  ASSERT_TRUE(w.ok());
  FewShotModel m;
  m.weights = *w;
  m.prototypes = DenseMatrix(3, spec.out_dim);
  m.prototype_labels = {0, 0, 1};
  const LineSet lines = Lines(2, 2, {1}, 5);
  EXPECT_TRUE(ScoreFewShot(spec, m, lines, Runtime()).ok());
  m.prototype_labels = {0, 1};  // 3 rows, 2 labels
  EXPECT_EQ(ScoreFewShot(spec, m, lines, Runtime()).status().code(),
            absl::StatusCode::kInvalidArgument);
  m.prototype_labels = {0, 0, 0};  // no anomalous prototype
  EXPECT_EQ(ScoreFewShot(spec, m, lines, Runtime()).status().code(),
            absl::StatusCode::kInvalidArgument);
  m.prototype_labels = {0, 2, 1};  // labels are 0 or 1
  EXPECT_EQ(ScoreFewShot(spec, m, lines, Runtime()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedlog::model
