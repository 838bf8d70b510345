// The learning core through its torch-free public API: weights round trips, seeded reproducibility,
// contrastive pre-training, meta-training with the curriculum, few-shot adaptation and the focal
// baseline.
#include <random>

#include "common/fl/bundle_codec.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/few_shot.h"
#include "common/model/focal_baseline.h"
#include "common/model/meta_trainer.h"
#include "gtest/gtest.h"
#include "tests/common/model/small_lines.h"

namespace fedlog::model {
namespace {

EncoderSpec SmallSpec() {
  EncoderSpec spec = testing::TrainingSpec();
  spec.sources = {"HDFS", "BGL"};
  return spec;
}

// Lines from `templates` templates per source; each template owns a token set and a dense pattern,
// and templates >= normal_templates are anomalous (label 1 + template index mod 2: two anomaly
// types) and carry a shared error token, the transferable signal meta-learning should pick up.
LineSet Synthetic(int per_template, int templates, int normal_templates, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::uniform_int_distribution<int64_t> param(300, 511);
  LineSet lines;
  const std::vector<std::string> sources = {"HDFS", "BGL"};
  int64_t rows = 0;
  for (size_t s = 0; s < sources.size(); ++s) {
    for (int t = 0; t < templates; ++t) {
      const int64_t tid = static_cast<int64_t>(s) * 100 + t;
      for (int i = 0; i < per_template; ++i) {
        std::vector<int64_t> tokens = {tid * 3 % 290, (tid * 3 + 1) % 290, (tid * 7 + 2) % 290,
                                       param(rng)};
        if (t >= normal_templates)
          tokens.push_back(299);  // an "error"-like word shared by anomalies
        lines.tokens.push_back(std::move(tokens));
        lines.sources.push_back(sources[s]);
        lines.template_ids.push_back(tid);
        lines.labels.push_back(t < normal_templates ? 0 : 1 + t % 2);
        ++rows;
      }
    }
  }
  lines.dense = DenseMatrix(rows, 4);
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < 4; ++c)
      lines.dense.Row(r)[c] = (lines.template_ids[r] % 4 == c ? 1.0f : 0.0f) + noise(rng);
  }
  return lines;
}

// Share of (anomalous, normal) pairs ranked correctly: AUROC.
double Auroc(const std::vector<float>& scores, const std::vector<int>& labels) {
  double good = 0, pairs = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[i] > 0 && labels[j] == 0) {
        good += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
        pairs += 1;
      }
    }
  }
  return good / pairs;
}

TEST(EncoderWeightsTest, BundleRoundTripIsBitExact) {
  auto w = InitialEncoderWeights(SmallSpec());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NE(w->Find("adapter.HDFS.down.weight"), nullptr);
  auto bytes = fl::EncodeBundle(*w);
  ASSERT_TRUE(bytes.ok());
  auto back = fl::DecodeBundle(*bytes);
  ASSERT_TRUE(back.ok());
  for (size_t i = 0; i < w->tensors.size(); ++i)
    EXPECT_EQ(w->tensors[i].values, back->tensors[i].values);
  LineSet lines = Synthetic(2, 3, 2, 1);
  auto a = Embed(SmallSpec(), *w, lines, {});
  auto b = Embed(SmallSpec(), *back, lines, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->data, b->data);
  // Initial weights depend on init_seed only.
  EXPECT_EQ(InitialEncoderWeights(SmallSpec())->tensors[0].values, w->tensors[0].values);
}

TEST(ContrastiveTest, TrainingIsReproducibleWithASeedAndLowersTheLoss) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet lines = Synthetic(8, 4, 3, 2);
  ContrastiveOptions o;
  o.steps = 25;
  o.batch_size = 32;
  o.encoder_lr = 1e-3f;
  o.runtime.seed = 5;
  auto r1 = PretrainContrastive(spec, *w0, lines, o);
  auto r2 = PretrainContrastive(spec, *w0, lines, o);
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_TRUE(r2.ok());
  for (size_t i = 0; i < r1->weights.tensors.size(); ++i) {
    EXPECT_EQ(r1->weights.tensors[i].values, r2->weights.tensors[i].values)
        << r1->weights.tensors[i].name;
  }
  EXPECT_LT(r1->final_loss, r1->initial_loss);
  EXPECT_EQ(r1->device, "cpu");
  o.runtime.seed = 6;
  auto r3 = PretrainContrastive(spec, *w0, lines, o);
  ASSERT_TRUE(r3.ok());
  EXPECT_NE(r3->weights.Find("out.weight")->values, r1->weights.Find("out.weight")->values);
}

TEST(MetaTest, CurriculumMetaTrainingThenFewShotSeparatesAnomalies) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet train = Synthetic(12, 6, 3, 3);
  MetaOptions o;
  o.meta_iterations = 90;
  o.meta_batch = 4;
  o.inner_steps = 2;
  o.first_order = true;
  o.episode.n_query = 5;
  o.runtime.seed = 9;
  auto meta = MetaTrain(spec, *w0, train, {{"HDFS", 3.0}, {"BGL", 500.0}}, o);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->episodes, 360);
  EXPECT_EQ(meta->iterations_per_phase, (std::array<int, 3>{30, 30, 30}));
  EXPECT_LT(meta->final_loss, meta->initial_loss);
  ASSERT_EQ(meta->global_prototypes.rows, 2);
  LineSet test = Synthetic(6, 6, 3, 4);
  LineSet support = SelectLines(test, {0, 6, 12, 18, 24, 30});  // one line per HDFS template: k = 6
  auto adapted = Adapt(spec, meta->weights, support, meta->global_prototypes, test, AdaptOptions());
  ASSERT_TRUE(adapted.ok()) << adapted.status();
  EXPECT_FALSE(adapted->used_global_prototypes);
  auto scores = ScoreFewShot(spec, *adapted, test, {});
  ASSERT_TRUE(scores.ok());
  EXPECT_GT(Auroc(*scores, test.labels), 0.9);
  EXPECT_GT(adapted->validation_f1, 0.8);
  // A few inner steps on the support set move the weights and keep the separation.
  AdaptOptions steps;
  steps.inner_steps = 3;
  auto tuned = Adapt(spec, meta->weights, support, meta->global_prototypes, test, steps);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_NE(tuned->weights.Find("out.weight")->values, meta->weights.Find("out.weight")->values);
  EXPECT_EQ(tuned->weights.Find("embed.weight")->values,
            meta->weights.Find("embed.weight")->values);
  auto tuned_scores = ScoreFewShot(spec, *tuned, test, {});
  ASSERT_TRUE(tuned_scores.ok());
  EXPECT_GT(Auroc(*tuned_scores, test.labels), 0.9);
  // k = 0: the global prototypes alone.
  auto zero_shot =
      Adapt(spec, meta->weights, LineSet(), meta->global_prototypes, LineSet(), AdaptOptions());
  ASSERT_TRUE(zero_shot.ok()) << zero_shot.status();
  EXPECT_TRUE(zero_shot->used_global_prototypes);
  EXPECT_EQ(zero_shot->threshold, 0.5f);
  EXPECT_EQ(Adapt(spec, meta->weights, LineSet(), DenseMatrix(), LineSet(), AdaptOptions())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(MetaTest, SecondOrderMetaTrainingIsReproducible) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet train = Synthetic(10, 4, 2, 5);
  MetaOptions o;
  o.meta_iterations = 3;
  o.meta_batch = 2;
  o.inner_steps = 2;
  o.runtime.seed = 11;
  auto a = MetaTrain(spec, *w0, train, {}, o);
  auto b = MetaTrain(spec, *w0, train, {}, o);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status();
  EXPECT_EQ(a->weights.Find("mlp.0.weight")->values, b->weights.Find("mlp.0.weight")->values);
  EXPECT_NE(a->weights.Find("mlp.0.weight")->values, w0->Find("mlp.0.weight")->values);
}

// Squared distance between two bundles over the shared parameters (all but adapter.* and head.*).
double SharedDistance(const fl::TensorBundle& a, const fl::TensorBundle& b) {
  double sum = 0;
  for (const fl::NamedTensor& t : a.tensors) {
    if (t.name.rfind("adapter.", 0) == 0 || t.name.rfind("head.", 0) == 0) continue;
    const fl::NamedTensor* u = b.Find(t.name);
    for (size_t i = 0; i < t.values.size(); ++i) {
      const double d = t.values[i] - u->values[i];
      sum += d * d;
    }
  }
  return sum;
}

TEST(FedProxTest, ProximalTermKeepsContrastiveWeightsNearTheStart) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet lines = Synthetic(8, 4, 3, 2);
  ContrastiveOptions o;
  o.steps = 30;
  o.batch_size = 32;
  o.encoder_lr = 1e-2f;
  o.runtime.seed = 5;
  auto free_run = PretrainContrastive(spec, *w0, lines, o);
  o.prox_mu = 50.0f;
  auto prox_run = PretrainContrastive(spec, *w0, lines, o);
  ASSERT_TRUE(free_run.ok() && prox_run.ok()) << free_run.status() << prox_run.status();
  const double free_moved = SharedDistance(free_run->weights, *w0);
  const double prox_moved = SharedDistance(prox_run->weights, *w0);
  EXPECT_GT(free_moved, 0);
  EXPECT_LT(prox_moved, 0.5 * free_moved);
  o.prox_mu = -1;
  EXPECT_EQ(PretrainContrastive(spec, *w0, lines, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FedProxTest, ProximalTermKeepsMetaWeightsNearTheStart) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet train = Synthetic(10, 4, 2, 5);
  MetaOptions o;
  o.meta_iterations = 30;
  o.meta_batch = 2;
  o.inner_steps = 1;
  o.first_order = true;
  o.meta_lr = 1e-2f;
  o.runtime.seed = 11;
  auto free_run = MetaTrain(spec, *w0, train, {}, o);
  o.prox_mu = 50.0f;
  auto prox_run = MetaTrain(spec, *w0, train, {}, o);
  ASSERT_TRUE(free_run.ok() && prox_run.ok()) << free_run.status() << prox_run.status();
  const double free_moved = SharedDistance(free_run->weights, *w0);
  const double prox_moved = SharedDistance(prox_run->weights, *w0);
  EXPECT_GT(free_moved, 0);
  EXPECT_LT(prox_moved, 0.5 * free_moved);
  // Adapters are outside the term: they still move.
  EXPECT_NE(prox_run->weights.Find("adapter.HDFS.up.weight")->values,
            w0->Find("adapter.HDFS.up.weight")->values);
}

TEST(FocalBaselineTest, LearnsTheLabels) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet train = Synthetic(10, 4, 3, 6);
  for (int& y : train.labels) y = y > 0 ? 1 : 0;
  FocalOptions o;
  o.steps = 60;
  o.batch_size = 32;
  o.learning_rate = 3e-3f;
  auto r = TrainFocalBaseline(spec, *w0, train, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->final_loss, r->initial_loss);
  ASSERT_NE(r->weights.Find("classifier.weight"), nullptr);
  auto scores = ScoreFocalBaseline(spec, r->weights, train, {});
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_GT(Auroc(*scores, train.labels), 0.9);
}

TEST(LearningErrorsTest, ClearStatusForBadInput) {
  EncoderSpec spec = SmallSpec();
  auto w0 = InitialEncoderWeights(spec);
  LineSet lines = Synthetic(2, 2, 1, 7);
  lines.sources[0] = "Spark";
  EXPECT_EQ(Embed(spec, *w0, lines, {}).status().code(), absl::StatusCode::kInvalidArgument);
  RuntimeOptions tpu;
  tpu.device = "tpu";
  EXPECT_EQ(Embed(spec, *w0, Synthetic(2, 2, 1, 7), tpu).status().code(),
            absl::StatusCode::kInvalidArgument);
  EncoderSpec dotted = spec;
  dotted.sources = {"a.b"};
  EXPECT_EQ(InitialEncoderWeights(dotted).status().code(), absl::StatusCode::kInvalidArgument);
  fl::TensorBundle partial = *w0;
  partial.tensors.pop_back();
  EXPECT_FALSE(Embed(spec, partial, Synthetic(2, 2, 1, 7), {}).ok());
  LineSet unlabeled = Synthetic(4, 2, 1, 8);
  unlabeled.labels.clear();
  EXPECT_FALSE(MetaTrain(spec, *w0, unlabeled, {}, MetaOptions()).ok());
}

}  // namespace
}  // namespace fedlog::model
