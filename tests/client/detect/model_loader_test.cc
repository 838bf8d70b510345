// Which model live detection loads (client/detect/model_loader.h): the site's personal model when
// it belongs to the promoted version and its bundle matches its manifest, else the promoted model.
#include "client/detect/model_loader.h"

#include <filesystem>
#include <random>

#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

constexpr int kDenseDim = 6;

model::LineSet RandomLines(int n) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int64_t> tok(1, 1 << 16);
  std::normal_distribution<float> d(0, 1);
  model::LineSet lines;
  lines.dense = DenseMatrix(n, kDenseDim);
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> t(static_cast<size_t>(1 + i % 6));
    for (auto& x : t) x = tok(rng);
    lines.tokens.push_back(t);
    for (int c = 0; c < kDenseDim; ++c) lines.dense.Row(i)[c] = d(rng);
    lines.sources.push_back("HDFS");
  }
  return lines;
}

std::vector<float> Scores(DetectionModel& m) {
  auto s = m.scorers.at("HDFS").ScoreLines(RandomLines(64));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::vector<float>{};
}

class ModelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(testing::WritePromotedModel(dir_, spec_, promoted_, 3).ok());
    auto promoted = Load();
    ASSERT_TRUE(promoted.ok()) << promoted.status();
    EXPECT_FALSE((*promoted)->personalised);
    promoted_scores_ = Scores(**promoted);
    auto personal = BuildDetectionModel(spec_, personal_, 3, {"HDFS"}, {}, 0);
    ASSERT_TRUE(personal.ok()) << personal.status();
    personal_scores_ = Scores(**personal);
    // The two weight sets score differently, so the scores tell which model was loaded.
    ASSERT_NE(promoted_scores_, personal_scores_);
  }

  absl::StatusOr<std::unique_ptr<DetectionModel>> Load() {
    return LoadDetectionModel(dir_, {"HDFS"}, {}, 0);
  }

  const model::EncoderSpec spec_ = testing::SmallSpec(kDenseDim, {"HDFS"});
  const fl::TensorBundle promoted_ = testing::SmallWeights(spec_, 1);
  const fl::TensorBundle personal_ = testing::SmallWeights(spec_, 2);
  std::string dir_;
  std::vector<float> promoted_scores_, personal_scores_;
};

TEST_F(ModelLoaderTest, PrefersThePersonalModelOfThePromotedVersion) {
  ASSERT_TRUE(testing::WritePersonalModel(dir_, spec_, personal_, 3).ok());
  auto m = Load();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE((*m)->personalised);
  EXPECT_EQ((*m)->version, 3);
  EXPECT_EQ(Scores(**m), personal_scores_);

  // Removing the personal manifest (the daemon kept the promoted model) goes back to it.
  std::filesystem::remove(PersonalManifestPath(dir_));
  m = Load();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->personalised);
  EXPECT_EQ(Scores(**m), promoted_scores_);
}

TEST_F(ModelLoaderTest, IgnoresAPersonalModelOfAnotherVersion) {
  ASSERT_TRUE(testing::WritePersonalModel(dir_, spec_, personal_, 2).ok());
  auto m = Load();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->personalised);
  EXPECT_EQ(Scores(**m), promoted_scores_);
}

TEST_F(ModelLoaderTest, IgnoresAPersonalBundleThatDoesNotMatchItsManifest) {
  ASSERT_TRUE(testing::WritePersonalModel(dir_, spec_, personal_, 3).ok());
  // A bundle replaced after the manifest was written (or a half-done rewrite): sha256 differs.
  auto other = fl::EncodeBundle(testing::SmallWeights(spec_, 4));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(WriteFileAtomic(PersonalBundlePath(dir_), *other).ok());
  auto m = Load();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->personalised);
  EXPECT_EQ(Scores(**m), promoted_scores_);

  // A manifest that does not parse is ignored as well.
  ASSERT_TRUE(WriteFileAtomic(PersonalManifestPath(dir_), "not a manifest").ok());
  m = Load();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->personalised);
}

}  // namespace
}  // namespace fedlog::client::detect
