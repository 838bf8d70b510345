#include "common/features/text_features.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tests/common/labels/test_data.h"

namespace fedlog::features {
namespace {

int Index(const std::string& name) {
  const auto& names = TextFeaturizer::FeatureNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

TEST(TextFeaturesTest, NamesAreUniqueAndCoverEveryDimension) {
  const auto& names = TextFeaturizer::FeatureNames();
  EXPECT_EQ(names.size(), static_cast<size_t>(TextFeaturizer::kDim));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_EQ(names.front(), "log1p_char_length");
  EXPECT_EQ(names.back(), "level_other");
}

TEST(TextFeaturesTest, ShapeFeaturesByHand) {
  TextFeaturizer f;
  // "aab": 3 chars, 1 token, no digits / upper / punctuation; p(a) = 2/3, p(b) = 1/3 ->
  // entropy = -(2/3 log2 2/3 + 1/3 log2 1/3) = 0.918296 bits.
  std::vector<float> v = f.Featurize("aab");
  EXPECT_FLOAT_EQ(v[Index("log1p_char_length")], std::log1p(3.0f));
  EXPECT_FLOAT_EQ(v[Index("log1p_token_count")], std::log1p(1.0f));
  EXPECT_FLOAT_EQ(v[Index("digit_ratio")], 0.0f);
  EXPECT_NEAR(v[Index("char_entropy")], 0.918296, 1e-5);
  // "A1!a": four distinct bytes -> 2 bits; one digit, one upper, one punctuation of 4.
  v = f.Featurize("A1!a");
  EXPECT_FLOAT_EQ(v[Index("digit_ratio")], 0.25f);
  EXPECT_FLOAT_EQ(v[Index("upper_ratio")], 0.25f);
  EXPECT_FLOAT_EQ(v[Index("punct_ratio")], 0.25f);
  EXPECT_FLOAT_EQ(v[Index("char_entropy")], 2.0f);
}

TEST(TextFeaturesTest, EntitiesKeywordsAndDetectedLevel) {
  TextFeaturizer f;
  // Pieces: ERROR Connection refused from 10.0.0.1:8080 (ip) after 3 (number) retries code 0x1F
  // (hex) at /var/log/app.log (path) deadbeef99 (hex: >= 8 hex chars with a digit) blk_-42 (none).
  std::vector<float> v = f.Featurize(
      "ERROR Connection refused from 10.0.0.1:8080 after 3 retries, code 0x1F at /var/log/app.log "
      "deadbeef99 blk_-42");
  EXPECT_EQ(v[Index("ip_count")], 1.0f);
  EXPECT_EQ(v[Index("hex_count")], 2.0f);
  EXPECT_EQ(v[Index("path_count")], 1.0f);
  EXPECT_EQ(v[Index("number_count")], 1.0f);
  EXPECT_EQ(v[Index("kw_error")], 1.0f);
  EXPECT_EQ(v[Index("kw_refused")], 1.0f);
  EXPECT_EQ(v[Index("kw_fail")], 0.0f);
  EXPECT_EQ(v[Index("level_error")], 1.0f);
  EXPECT_EQ(v[Index("level_other")], 0.0f);
  // An HDFS-style "/ip:port" is an IP, not a path; 256.1.1.1 is no IP but a number-free piece.
  v = f.Featurize("src: /10.250.19.102:54106 dest: 256.1.1.1 Request timed out");
  EXPECT_EQ(v[Index("ip_count")], 1.0f);
  EXPECT_EQ(v[Index("path_count")], 0.0f);
  EXPECT_EQ(v[Index("kw_timeout")], 1.0f);  // "timed out" counts as timeout
}

TEST(TextFeaturesTest, ExplicitLevelWinsAndMapsAliases) {
  TextFeaturizer f;
  EXPECT_EQ(f.Featurize("ERROR in text", "W")[Index("level_warn")], 1.0f);
  EXPECT_EQ(ClassifyLevel("[WARNING]"), LevelClass::kWarn);
  EXPECT_EQ(ClassifyLevel("notice"), LevelClass::kInfo);
  EXPECT_EQ(ClassifyLevel("SEVERE"), LevelClass::kError);
  EXPECT_EQ(ClassifyLevel("FAILURE"), LevelClass::kFatal);
  EXPECT_EQ(ClassifyLevel("V"), LevelClass::kTrace);
  EXPECT_EQ(ClassifyLevel(""), LevelClass::kOther);
  EXPECT_EQ(DetectLevel("2015-10-18 18:01:47,978 INFO [main] started"), LevelClass::kInfo);
  EXPECT_EQ(DetectLevel("I am here"), LevelClass::kOther);           // one-letter forms ignored
  EXPECT_EQ(DetectLevel("a b c d ERROR late"), LevelClass::kOther);  // only the first four tokens
}

TEST(TextFeaturesTest, EmptyContentIsAllZerosButLevelOther) {
  std::vector<float> v = TextFeaturizer().Featurize("");
  for (int i = 0; i < TextFeaturizer::kDim; ++i) {
    EXPECT_EQ(v[i], i == Index("level_other") ? 1.0f : 0.0f) << TextFeaturizer::FeatureNames()[i];
  }
}

TEST(TextFeaturesTest, FeaturizeAllMatchesSingleRows) {
  TextFeaturizer f;
  const std::vector<std::string> lines = {"INFO ok", "panic: kernel", "x"};
  DenseMatrix m = f.FeaturizeAll(lines, {"", "FATAL"});
  ASSERT_EQ(m.rows, 3);
  ASSERT_EQ(m.cols, TextFeaturizer::kDim);
  for (int r = 0; r < 3; ++r) {
    std::vector<float> want = f.Featurize(lines[r], r == 1 ? "FATAL" : "");
    EXPECT_EQ(std::vector<float>(m.Row(r), m.Row(r) + m.cols), want) << r;
  }
}

TEST(TextFeaturesTest, RealHdfsLinesAllCarryALevel) {
  FEDLOG_REQUIRE_DATA_FILE(path, "loghub-2k/HDFS/HDFS_2k.log");
  auto text = ReadFile(path);
  ASSERT_TRUE(text.ok());
  TextFeaturizer f;
  int lines = 0, with_level = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    ++lines;
    with_level += f.Featurize(line)[Index("level_other")] == 0.0f ? 1 : 0;
  }
  EXPECT_EQ(lines, 2000);
  EXPECT_EQ(with_level, lines);  // "081109 203615 148 INFO ..." - the level is the 4th token
}

}  // namespace
}  // namespace fedlog::features
