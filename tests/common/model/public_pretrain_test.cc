// Public pre-training (public_pretrain.h) and a run's initial model from a file (initial_model.h): the pre-trained
// bundle is a valid initial model whose prototypes.global tells the classes apart, and a bundle that does not fit
// the spec, carries an adapter or a non-finite value, is too large or has another digest is refused.
#include "common/model/public_pretrain.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_stream.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/initial_model.h"
#include "gtest/gtest.h"
#include "tests/common/model/small_lines.h"

namespace fedlog::model {
namespace {

EncoderSpec SmallSpec() { return testing::TrainingSpec(); }

// Public lines of three "sources" with no source name: templates 0-2 normal, 3-4 anomalous (types 1, 2), the
// anomalous ones sharing an "error" token.
LineSet PublicLines(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::uniform_int_distribution<int64_t> param(300, 511);
  LineSet lines;
  for (int s = 0; s < 3; ++s) {
    for (int t = 0; t < 5; ++t) {
      const int64_t tid = int64_t{s} * 100 + t;
      for (int i = 0; i < 12; ++i) {
        std::vector<int64_t> tokens = {tid * 3 % 290, (tid * 3 + 1) % 290, param(rng)};
        if (t >= 3) tokens.push_back(299);
        lines.tokens.push_back(std::move(tokens));
        lines.sources.push_back("");
        lines.template_ids.push_back(tid);
        lines.labels.push_back(t < 3 ? 0 : 1 + t % 2);
      }
    }
  }
  lines.dense = DenseMatrix(lines.size(), 4);
  for (int64_t r = 0; r < lines.size(); ++r) {
    for (int c = 0; c < 4; ++c) lines.dense.Row(r)[c] = (lines.template_ids[r] % 4 == c ? 1.0f : 0.0f) + noise(rng);
  }
  return lines;
}

PublicPretrainOptions SmallOptions() {
  PublicPretrainOptions o;
  o.rounds = 2;
  o.work.contrastive_steps = 6;
  o.work.meta_iterations = 4;
  o.work.batch_size = 64;
  o.work.runtime.seed = 3;
  return o;
}

fl::UpdateCheckOptions Schema(const EncoderSpec& spec) {
  fl::UpdateCheckOptions schema;
  schema.out_dim = spec.out_dim;
  schema.adapter_dim = spec.adapter_dim;
  return schema;
}

TEST(PublicPretrainTest, GivesAValidInitialModelWithSeparatedPrototypes) {
  const EncoderSpec spec = SmallSpec();
  absl::StatusOr<PublicPretrainResult> r = PretrainPublic(spec, PublicLines(1), SmallOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->lines, 180);
  EXPECT_EQ(r->anomalous_lines, 72);
  absl::StatusOr<fl::TensorBundle> untrained = InitialEncoderWeights(spec);
  ASSERT_TRUE(untrained.ok());
  EXPECT_TRUE(CheckInitialModel(*untrained, Schema(spec), r->weights).ok());
  // Trained: the shared encoder moved from the untrained weights.
  const fl::NamedTensor* out = r->weights.Find("out.weight");
  ASSERT_NE(out, nullptr);
  double moved = 0;
  for (size_t i = 0; i < out->values.size(); ++i) {
    moved += std::fabs(out->values[i] - untrained->Find("out.weight")->values[i]);
  }
  EXPECT_GT(moved, 0);
  // prototypes.global: row 0 normal, row 1 anomalous, unit-scale means that differ.
  const fl::NamedTensor* p = r->weights.Find("prototypes.global");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->shape, (std::vector<int64_t>{2, spec.out_dim}));
  double dist = 0;
  for (int64_t c = 0; c < spec.out_dim; ++c) {
    const double d = p->values[static_cast<size_t>(c)] - p->values[static_cast<size_t>(spec.out_dim + c)];
    dist += d * d;
  }
  EXPECT_GT(dist, 1e-3);
  for (const fl::NamedTensor& t : r->weights.tensors) EXPECT_NE(t.name.rfind("adapter.", 0), 0u) << t.name;
}

TEST(PublicPretrainTest, RefusesAdaptersSourcesAndOneClass) {
  EncoderSpec with_sources = SmallSpec();
  with_sources.sources = {"HDFS"};
  EXPECT_EQ(PretrainPublic(with_sources, PublicLines(1), SmallOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
  LineSet named = PublicLines(1);
  named.sources[0] = "BGL";
  EXPECT_EQ(PretrainPublic(SmallSpec(), named, SmallOptions()).status().code(), absl::StatusCode::kInvalidArgument);
  LineSet normal_only = PublicLines(1);
  for (int& l : normal_only.labels) l = 0;
  EXPECT_EQ(PretrainPublic(SmallSpec(), normal_only, SmallOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class InitialModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fedlog_initial_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    absl::StatusOr<fl::TensorBundle> w = InitialEncoderWeights(SmallSpec());
    ASSERT_TRUE(w.ok());
    reference_ = *w;
    good_ = reference_;
    good_.tensors.push_back({"prototypes.global", {2, SmallSpec().out_dim},
                             std::vector<float>(static_cast<size_t>(2 * SmallSpec().out_dim), 0.25f)});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const fl::TensorBundle& b) {
    const std::string path = (dir_ / name).string();
    EXPECT_TRUE(fl::WriteBundleFile(path, b).ok());
    return path;
  }
  absl::Status Load(const std::string& path, const std::string& sha256 = "") {
    return LoadInitialModel(path, sha256, reference_, Schema(SmallSpec())).status();
  }

  std::filesystem::path dir_;
  fl::TensorBundle reference_;
  fl::TensorBundle good_;
};

TEST_F(InitialModelFileTest, LoadsAGoodBundleAndChecksItsDigest) {
  const std::string path = Write("good.bundle", good_);
  absl::StatusOr<InitialModelFile> f = LoadInitialModel(path, "", reference_, Schema(SmallSpec()));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->weights.tensors.size(), good_.tensors.size());
  EXPECT_FLOAT_EQ(f->weights.Find("prototypes.global")->values[3], 0.25f);
  absl::StatusOr<std::string> bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(f->sha256, Sha256Hex(*bytes));
  EXPECT_TRUE(Load(path, f->sha256).ok());
  EXPECT_EQ(Load(path, std::string(64, 'a')).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Load((dir_ / "missing.bundle").string()).code(), absl::StatusCode::kNotFound);
}

TEST_F(InitialModelFileTest, RefusesBundlesThatDoNotFitTheSpec) {
  struct Case {
    const char* name;
    std::function<void(fl::TensorBundle*)> spoil;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"shape", [](fl::TensorBundle* b) { b->Find("out.bias")->shape = {1, b->Find("out.bias")->shape[0]}; },
       "out.bias"},
      {"missing", [](fl::TensorBundle* b) { b->tensors.erase(b->tensors.begin()); }, ""},
      {"nan", [](fl::TensorBundle* b) { b->Find("mlp.0.bias")->values[0] = std::nanf(""); }, "not finite"},
      {"huge", [](fl::TensorBundle* b) { b->Find("mlp.0.bias")->values[0] = 1e9f; }, "magnitude"},
      {"adapter",
       [](fl::TensorBundle* b) {
         b->tensors.push_back({"adapter.HDFS.up.bias", {16}, std::vector<float>(16, 0.0f)});
       },
       "no adapters"},
      {"unknown", [](fl::TensorBundle* b) { b->tensors.push_back({"prototypes.evil", {2, 16}, std::vector<float>(32)}); },
       "prototypes.evil"},
      {"prototype shape", [](fl::TensorBundle* b) { b->Find("prototypes.global")->shape = {4, 8}; },
       "prototypes.global"},
  };
  for (const Case& c : cases) {
    fl::TensorBundle b = good_;
    c.spoil(&b);
    const absl::Status st = Load(Write("bad.bundle", b));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.name << ": " << st;
    EXPECT_NE(st.message().find(c.says), std::string::npos) << c.name << ": " << st;
  }
  // Larger than the spec's weights allow: the embedding with enough extra rows for more than the slack.
  fl::TensorBundle big = good_;
  fl::NamedTensor* embed = big.Find("embed.weight");
  embed->shape[0] += kInitialModelSlackBytes / (4 * embed->shape[1]) + 16;
  embed->values.resize(static_cast<size_t>(embed->NumElements()), 0.0f);
  const absl::Status st = Load(Write("big.bundle", big));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find("larger than"), std::string::npos) << st;
}

}  // namespace
}  // namespace fedlog::model
