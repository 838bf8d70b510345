// One site's federated round of the line encoder (site_round.h): identity adapters for new
// sources, local work with FedProx, fresh prototypes, and the site's detector with and without
// support labels; personalisation after federation (personalise.h).
#include "common/model/site_round.h"

#include <cmath>
#include <random>

#include "common/model/contrastive_trainer.h"
#include "common/model/personalise.h"
#include "common/privacy/class_sums.h"
#include "common/privacy/release_shrink.h"
#include "common/privacy/release_subspace.h"
#include "gtest/gtest.h"
#include "tests/common/model/small_lines.h"

namespace fedlog::model {
namespace {

EncoderSpec SharedSpec() { return testing::TrainingSpec(); }

// `per_template` lines per template and source; templates >= 3 are anomalous (types 1 and 2) and
// share an "error" token. Sources in `unlabeled` get label -1.
LineSet Lines(const std::vector<std::string>& sources, int per_template, uint64_t seed,
              const std::string& unlabeled = "") {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::uniform_int_distribution<int64_t> param(300, 511);
  LineSet lines;
  for (size_t s = 0; s < sources.size(); ++s) {
    for (int t = 0; t < 5; ++t) {
      const int64_t tid = static_cast<int64_t>(s) * 100 + t;
      for (int i = 0; i < per_template; ++i) {
        std::vector<int64_t> tokens = {tid * 3 % 290, (tid * 3 + 1) % 290, param(rng)};
        if (t >= 3) tokens.push_back(299);
        lines.tokens.push_back(std::move(tokens));
        lines.sources.push_back(sources[s]);
        lines.template_ids.push_back(tid);
        lines.labels.push_back(sources[s] == unlabeled ? -1 : (t < 3 ? 0 : 1 + t % 2));
      }
    }
  }
  lines.dense = DenseMatrix(lines.size(), 4);
  for (int64_t r = 0; r < lines.size(); ++r) {
    for (int c = 0; c < 4; ++c) {
      lines.dense.Row(r)[c] = (lines.template_ids[r] % 4 == c ? 1.0f : 0.0f) + noise(rng);
    }
  }
  return lines;
}

// The lines of `lines` labelled normal (a site's normal-only support: its anomalous prototype comes from the
// release).
LineSet NormalLines(const LineSet& lines) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < lines.size(); ++i) {
    if (lines.labels[i] == 0) rows.push_back(i);
  }
  return SelectLines(lines, rows);
}

LocalWork SmallWork() {
  LocalWork work;
  work.contrastive_steps = 8;
  work.meta_iterations = 4;
  work.inner_steps = 1;
  work.batch_size = 64;
  work.runtime.seed = 3;
  return work;
}

double SquaredDistance(const fl::TensorBundle& a, const fl::TensorBundle& b,
                       const std::string& prefix) {
  double sum = 0;
  for (const fl::NamedTensor& t : a.tensors) {
    if (t.name.rfind(prefix, 0) != 0) continue;
    const fl::NamedTensor* u = b.Find(t.name);
    EXPECT_NE(u, nullptr) << t.name;
    if (u == nullptr) continue;
    for (size_t i = 0; i < t.values.size(); ++i) {
      sum += (t.values[i] - u->values[i]) * (t.values[i] - u->values[i]);
    }
  }
  return sum;
}

TEST(PrepareSiteWeightsTest, AddsIdentityAdaptersAndDropsForeignOnes) {
  auto global = InitialEncoderWeights(SiteSpec(SharedSpec(), {"Other"}));
  ASSERT_TRUE(global.ok()) << global.status();
  auto start = PrepareSiteWeights(SharedSpec(), *global, {"Apache", "Linux"});
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(start->Find("adapter.Other.down.weight"), nullptr);
  for (const char* name : {"adapter.Apache.up.weight", "adapter.Linux.up.bias"}) {
    const fl::NamedTensor* up = start->Find(name);
    ASSERT_NE(up, nullptr) << name;
    for (float v : up->values) ASSERT_EQ(v, 0.0f) << name;
  }
  // Identity adapters: embeddings equal those of the shared encoder without any adapter.
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache", "Linux"});
  LineSet lines = Lines({"Apache", "Linux"}, 2, 1);
  lines.labels.clear();
  auto with = Embed(site, *start, lines, {});
  LineSet bare = lines;
  bare.sources.clear();
  auto shared_only = PrepareSiteWeights(SharedSpec(), *global, {});
  ASSERT_TRUE(shared_only.ok());
  auto without = Embed(SharedSpec(), *shared_only, bare, {});
  ASSERT_TRUE(with.ok() && without.ok()) << with.status() << without.status();
  for (size_t i = 0; i < with->data.size(); ++i) EXPECT_NEAR(with->data[i], without->data[i], 1e-6);
}

TEST(PrepareSiteWeightsTest, KeepsTrainedAdaptersAndRejectsNonEncoders) {
  auto global = InitialEncoderWeights(SiteSpec(SharedSpec(), {"Apache"}));
  ASSERT_TRUE(global.ok());
  global->Find("adapter.Apache.up.bias")->values[0] = 0.5f;
  auto start = PrepareSiteWeights(SharedSpec(), *global, {"Apache"});
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->Find("adapter.Apache.up.bias")->values[0], 0.5f);
  EXPECT_EQ(start->tensors.size(), global->tensors.size());

  fl::TensorBundle mlp;
  mlp.tensors.push_back({"enc.0.weight", {1}, {1.0f}});
  EXPECT_EQ(PrepareSiteWeights(SharedSpec(), mlp, {"Apache"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrepareSiteWeights(SharedSpec(), *global, {"bad.name"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RunSiteRoundTest, TrainsAndComputesPrototypesOfLabeledSources) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache", "Linux"});
  auto global = InitialEncoderWeights(SharedSpec());
  ASSERT_TRUE(global.ok());
  auto start = PrepareSiteWeights(SharedSpec(), *global, site.sources);
  ASSERT_TRUE(start.ok());
  const LineSet train = Lines({"Apache", "Linux"}, 12, 2, /*unlabeled=*/"Linux");
  LineSet validation = Lines({"Apache"}, 6, 3);
  auto r = RunSiteRound(site, *start, train, validation, SmallWork());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples, train.size());
  EXPECT_EQ(r->distinct_templates, 10);
  EXPECT_NEAR(r->imbalance_ratio, 36.0 / 24.0, 1e-9);  // Apache: 3 normal, 2 anomalous templates
  EXPECT_GT(r->contrastive_loss, 0);
  EXPECT_GT(r->meta_loss, 0);
  ASSERT_NE(r->weights.Find("adapter.Apache.prototypes"), nullptr);
  EXPECT_EQ(r->weights.Find("adapter.Apache.prototypes")->shape, (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(r->weights.Find("adapter.Linux.prototypes"), nullptr);  // no labels there
  EXPECT_NE(r->weights.Find("prototypes.global"), nullptr);
  EXPECT_TRUE(r->metrics.count("val_f1"));
  EXPECT_GT(SquaredDistance(r->weights, *start, "mlp."), 0);
  EXPECT_GT(SquaredDistance(r->weights, *start, "adapter.Linux.up"), 0);
}

TEST(RunSiteRoundTest, SeededAndWithoutLabelsSkipsMetaLearning) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Linux"});
  auto start = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Linux"});
  ASSERT_TRUE(start.ok());
  LineSet train = Lines({"Linux"}, 10, 4);
  train.labels.clear();
  auto a = RunSiteRound(site, *start, train, {}, SmallWork());
  auto b = RunSiteRound(site, *start, train, {}, SmallWork());
  ASSERT_TRUE(a.ok() && b.ok()) << a.status();
  EXPECT_EQ(a->meta_loss, 0);
  EXPECT_EQ(a->imbalance_ratio, 1);
  EXPECT_EQ(a->weights.Find("prototypes.global"), nullptr);
  EXPECT_EQ(SquaredDistance(a->weights, b->weights, ""), 0);
}

TEST(RunSiteRoundTest, FedProxKeepsSharedWeightsCloserToTheGlobalModel) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto start = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(start.ok());
  const LineSet train = Lines({"Apache"}, 12, 5);
  LocalWork work = SmallWork();
  work.learning_rate = 1e-2f;
  auto free = RunSiteRound(site, *start, train, {}, work);
  work.fedprox_mu = 100.0f;
  auto prox = RunSiteRound(site, *start, train, {}, work);
  ASSERT_TRUE(free.ok() && prox.ok()) << free.status() << prox.status();
  EXPECT_LT(SquaredDistance(prox->weights, *start, "mlp."),
            SquaredDistance(free->weights, *start, "mlp."));
}

TEST(BuildSiteDetectorTest, FallsBackToTheBundlesPrototypes) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto start = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(start.ok());
  AdaptOptions adapt;
  // No support, no prototypes: nothing to build the classes from.
  EXPECT_EQ(BuildSiteDetector(site, *start, {}, {}, adapt).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto trained = RunSiteRound(site, *start, Lines({"Apache"}, 12, 6), {}, SmallWork());
  ASSERT_TRUE(trained.ok()) << trained.status();
  const LineSet test = Lines({"Apache"}, 8, 7);
  auto zero_shot = BuildSiteDetector(site, trained->weights, {}, {}, adapt);
  ASSERT_TRUE(zero_shot.ok()) << zero_shot.status();
  EXPECT_TRUE(zero_shot->used_global_prototypes);
  const fl::NamedTensor* own = trained->weights.Find("adapter.Apache.prototypes");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(zero_shot->prototypes.data, own->values);
  auto scores = ScoreFewShot(site, *zero_shot, test, {});
  ASSERT_TRUE(scores.ok()) << scores.status();
  double normal = 0, anomalous = 0;
  for (size_t i = 0; i < scores->size(); ++i)
    (test.labels[i] > 0 ? anomalous : normal) += (*scores)[i];
  EXPECT_GT(anomalous / 16.0, normal / 24.0);  // anomalies score higher on average

  // k support lines of both classes: their own prototypes, thresholds from validation.
  LineSet support = Lines({"Apache"}, 1, 8);
  auto k_shot = BuildSiteDetector(site, trained->weights, support, test, adapt);
  ASSERT_TRUE(k_shot.ok()) << k_shot.status();
  EXPECT_EQ(k_shot->shots, 5);
  EXPECT_FALSE(k_shot->used_global_prototypes);
  EXPECT_GE(k_shot->validation_f1, 0);
}

// Line DP's class-sum release (common/privacy/class_sums.h): only in the release round, one more Gaussian step
// among the round's phases (q = 1, multiplier s / sqrt(2)), a [2, out_dim + 1] tensor whose counts are the class
// counts plus noise; and a detector without anomalous support lines takes its anomalous prototype from it, not
// from the DP-trained prototypes.global.
TEST(RunSiteRoundTest, LineDpReleasesClassSumsOnlyWhenAskedAndChargesThem) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto start = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(start.ok());
  const LineSet train = Lines({"Apache"}, 12, 6);  // 36 normal, 24 anomalous labelled lines
  LocalWork work = SmallWork();
  work.contrastive_steps = 0;
  work.line_dp.noise_multiplier = 1.0;
  work.line_dp.prototype_noise = 0.5;
  auto plain = RunSiteRound(site, *start, train, {}, work);  // not the release round
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->weights.Find("prototypes.release"), nullptr);
  for (const LineDpPhase& p : plain->line_dp_phases) EXPECT_NE(p.name, "prototypes");

  work.line_dp.release_prototypes = true;
  auto released = RunSiteRound(site, *start, train, {}, work);
  ASSERT_TRUE(released.ok()) << released.status();
  const fl::NamedTensor* r = released->weights.Find("prototypes.release");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->shape, (std::vector<int64_t>{2, site.out_dim + 1}));
  EXPECT_NEAR(r->values[site.out_dim], 36, 5 * 0.5);           // normal count + N(0, 0.25)
  EXPECT_NEAR(r->values[2 * site.out_dim + 1], 24, 5 * 0.5);   // anomalous count
  const LineDpPhase& last = released->line_dp_phases.back();
  EXPECT_EQ(last.name, "prototypes");
  EXPECT_EQ(last.q, 1.0);
  EXPECT_EQ(last.steps, 1);
  EXPECT_NEAR(last.sigma, 0.5 / std::sqrt(2.0), 1e-12);
  // The round's epsilon is the composition with the release: larger than without it.
  EXPECT_GT(released->line_dp_round_epsilon, plain->line_dp_round_epsilon);

  // Support lines of the normal class only: the anomalous prototype comes from the release.
  const LineSet normal_support = NormalLines(Lines({"Apache"}, 1, 8));
  AdaptOptions adapt;
  adapt.prototypes = PrototypeMode::kClassMean;
  auto detector = BuildSiteDetector(site, released->weights, normal_support, {}, adapt);
  ASSERT_TRUE(detector.ok()) << detector.status();
  EXPECT_TRUE(detector->used_global_prototypes);
  const std::vector<float> want = privacy::PrototypesFromRelease(r->values, site.out_dim);
  ASSERT_EQ(want.size(), static_cast<size_t>(2 * site.out_dim));
  ASSERT_EQ(detector->prototypes.rows, 2);
  for (int64_t j = 0; j < site.out_dim; ++j) {
    EXPECT_FLOAT_EQ(detector->prototypes.data[site.out_dim + j], want[site.out_dim + j]) << j;
  }
}

// The release shrunk towards the site's own normal score (common/privacy/release_shrink.h): with the pooled
// noise's energy beside a directions-form release, the detector's prototype from the release is its unit direction
// times max(0, 1 - energy / |row|^2); without it (every model today) exactly the unit direction; a release the
// noise dominates leaves an anomalous prototype of 0, and the tensor never reaches the encoder.
TEST(BuildSiteDetectorTest, ShrinksTheReleasesPrototypesByTheirNoiseShare) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto start = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(start.ok());
  const int64_t dim = site.out_dim;
  // Directions form: the normal row 40 along axis 0 (|row|^2 1600), the anomalous row 3, 4 on axes 1, 2 (25).
  std::vector<float> release(static_cast<size_t>(2 * (dim + 1)), 0.0f);
  release[0] = 40.0f;
  release[static_cast<size_t>(dim + 1) + 1] = 3.0f;
  release[static_cast<size_t>(dim + 1) + 2] = 4.0f;
  start->tensors.push_back(fl::NamedTensor{"prototypes.release", {2, dim + 1}, release});
  const LineSet normal_support = NormalLines(Lines({"Apache"}, 1, 8));
  AdaptOptions adapt;
  adapt.prototypes = PrototypeMode::kClassMean;
  auto anomalous_prototype = [&](const fl::TensorBundle& weights) {
    absl::StatusOr<FewShotModel> d = BuildSiteDetector(site, weights, normal_support, {}, adapt);
    EXPECT_TRUE(d.ok()) << d.status();
    std::vector<float> row;
    if (d.ok() && d->prototypes.rows == 2) {
      row.assign(d->prototypes.data.begin() + dim, d->prototypes.data.end());
    }
    return row;
  };
  const std::vector<float> today = anomalous_prototype(*start);
  ASSERT_EQ(today.size(), static_cast<size_t>(dim));
  EXPECT_FLOAT_EQ(today[1], 0.6f);
  EXPECT_FLOAT_EQ(today[2], 0.8f);

  fl::TensorBundle shrunk = *start;
  shrunk.tensors.push_back(fl::NamedTensor{privacy::kReleaseNoiseName, {1}, {5.0f}});  // w = 1 - 5 / 25
  const std::vector<float> weighted = anomalous_prototype(shrunk);
  ASSERT_EQ(weighted.size(), static_cast<size_t>(dim));
  EXPECT_NEAR(weighted[1], 0.8 * 0.6, 1e-6);
  EXPECT_NEAR(weighted[2], 0.8 * 0.8, 1e-6);

  shrunk.tensors.back().values[0] = 50.0f;  // the noise's expected energy is twice the row's: w = 0
  const std::vector<float> none = anomalous_prototype(shrunk);
  ASSERT_EQ(none.size(), static_cast<size_t>(dim));
  for (float v : none) EXPECT_EQ(v, 0.0f);
}

// The release in a public subspace (common/privacy/release_subspace.h): with a basis in the round's start weights
// the release lies in its span (noise included) and is charged the same step; the basis never enters the update.
TEST(RunSiteRoundTest, LineDpReleaseProjectsOntoTheStartWeightsBasis) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto start = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(start.ok());
  const int64_t dim = site.out_dim;
  const int rank = 3;
  std::vector<float> basis(static_cast<size_t>(rank * dim), 0.0f);
  for (int k = 0; k < rank; ++k) basis[k * dim + 2 * k] = 1.0f;  // e0, e2, e4
  start->tensors.push_back(fl::NamedTensor{privacy::kReleaseBasisName, {rank, dim}, basis});
  const LineSet train = Lines({"Apache"}, 12, 6);
  LocalWork work = SmallWork();
  work.contrastive_steps = 0;
  work.line_dp.noise_multiplier = 1.0;
  work.line_dp.prototype_noise = 0.5;
  work.line_dp.prototype_directions = true;
  work.line_dp.release_prototypes = true;
  auto released = RunSiteRound(site, *start, train, {}, work);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->weights.Find(privacy::kReleaseBasisName), nullptr);
  const fl::NamedTensor* r = released->weights.Find("prototypes.release");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->shape, (std::vector<int64_t>{2, dim + 1}));
  double inside = 0;
  for (int c = 0; c < 2; ++c) {
    for (int64_t j = 0; j < dim; ++j) {
      const float v = r->values[c * (dim + 1) + j];
      if (j < 2 * rank && j % 2 == 0) {
        inside += std::fabs(v);
      } else {
        EXPECT_EQ(v, 0.0f) << c << " " << j;  // outside the span: no signal and no noise
      }
    }
    EXPECT_EQ(r->values[c * (dim + 1) + dim], 0.0f);  // directions: no count
  }
  EXPECT_GT(inside, 0);
  const LineDpPhase& last = released->line_dp_phases.back();
  EXPECT_EQ(last.name, "prototypes");
  EXPECT_NEAR(last.sigma, 0.5, 1e-12);  // ClassSumStep(s, kDirections): the full release's step
  // A basis of the wrong width is refused.
  start->tensors.back() = fl::NamedTensor{privacy::kReleaseBasisName, {1, dim - 1}, std::vector<float>(dim - 1, 0)};
  EXPECT_FALSE(RunSiteRound(site, *start, train, {}, work).ok());
}

TEST(PersonaliseSiteTest, KeepsTheLocalRoundsOnlyWhenValidationAgrees) {
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto global = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(global.ok());
  const LineSet train = Lines({"Apache"}, 12, 6);
  const LineSet validation = Lines({"Apache"}, 8, 7);
  const LineSet support = Lines({"Apache"}, 1, 8);
  PersonaliseOptions options;
  options.rounds = 2;
  options.work = SmallWork();

  auto a = PersonaliseSite(site, *global, train, support, validation, options);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_GE(a->validation_f1_global, 0);
  ASSERT_GE(a->validation_f1_personal, 0);
  // The rule: the tuned weights are kept exactly when their validation F1 is not lower.
  EXPECT_EQ(a->personalised, a->validation_f1_personal >= a->validation_f1_global);
  EXPECT_GT(SquaredDistance(a->tuned, *global, "mlp."), 0);  // the local rounds trained
  EXPECT_EQ(SquaredDistance(a->weights, a->personalised ? a->tuned : *global, "mlp."), 0);
  // Seeded: the same call gives the same weights.
  auto b = PersonaliseSite(site, *global, train, support, validation, options);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(SquaredDistance(a->tuned, b->tuned, ""), 0);

  // Without validation lines of both classes nothing can justify a change: the global model stays.
  LineSet normal_only = SelectLines(validation, {0, 1, 2});
  auto c = PersonaliseSite(site, *global, train, support, normal_only, options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->personalised);
  EXPECT_EQ(c->validation_f1_global, -1);
  EXPECT_EQ(SquaredDistance(c->weights, *global, ""), 0);

  // Zero rounds: the global model, untouched, and no training.
  options.rounds = 0;
  auto d = PersonaliseSite(site, *global, train, support, validation, options);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->personalised);
  EXPECT_TRUE(d->tuned.tensors.empty());
  options.rounds = -1;
  EXPECT_EQ(PersonaliseSite(site, *global, train, support, validation, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PersonaliseSiteTest, LocalRoundsNeverRunLineDp) {
  // The local step's weights never leave the site, so a line-DP plan's settings are ignored: the
  // rounds are the non-private ones, bit for bit, and no DP mechanism runs.
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto global = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(global.ok());
  const LineSet train = Lines({"Apache"}, 12, 6);
  const LineSet validation = Lines({"Apache"}, 8, 7);
  const LineSet support = Lines({"Apache"}, 1, 8);
  PersonaliseOptions options;
  options.rounds = 2;
  options.work = SmallWork();
  auto plain = PersonaliseSite(site, *global, train, support, validation, options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  options.work.line_dp.noise_multiplier = 50.0;  // would swamp every step if it ran
  auto under_dp = PersonaliseSite(site, *global, train, support, validation, options);
  ASSERT_TRUE(under_dp.ok()) << under_dp.status();
  EXPECT_EQ(SquaredDistance(plain->tuned, under_dp->tuned, ""), 0);
  EXPECT_NE(under_dp->tuned.Find("prototypes.global"), nullptr);  // computed locally, no noise
  EXPECT_EQ(plain->personalised, under_dp->personalised);
}

TEST(PersonaliseSiteTest, KeepsATunedModelThatBeatsAnUntrainedOne) {
  // From untrained weights, local rounds on the site's own labeled lines must not lose on
  // validation lines drawn like them, so the tuned model is kept.
  const EncoderSpec site = SiteSpec(SharedSpec(), {"Apache"});
  auto global = PrepareSiteWeights(SharedSpec(), *InitialEncoderWeights(SharedSpec()), {"Apache"});
  ASSERT_TRUE(global.ok());
  PersonaliseOptions options;
  options.rounds = 3;
  options.work = SmallWork();
  auto r = PersonaliseSite(site, *global, Lines({"Apache"}, 12, 6), Lines({"Apache"}, 1, 8),
                           Lines({"Apache"}, 8, 7), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->personalised) << r->validation_f1_personal << " vs " << r->validation_f1_global;
}

}  // namespace
}  // namespace fedlog::model
