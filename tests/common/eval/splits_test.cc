#include "common/eval/splits.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::eval {
namespace {

std::vector<int> Labels(int zeros, int ones) {
  std::vector<int> y(zeros, 0);
  y.insert(y.end(), ones, 1);
  return y;
}

int CountLabel(const std::vector<int>& y, const std::vector<size_t>& idx, int label) {
  return static_cast<int>(
      std::count_if(idx.begin(), idx.end(), [&](size_t i) { return y[i] == label; }));
}

TEST(StratifiedSplitTest, KeepsClassProportionsAndPartitions) {
  const std::vector<int> y = Labels(90, 10);
  auto s = StratifiedSplit(y, 0.2, 7);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(CountLabel(y, s->test, 0), 18);
  EXPECT_EQ(CountLabel(y, s->test, 1), 2);
  EXPECT_EQ(s->train.size(), 80u);
  std::set<size_t> all(s->train.begin(), s->train.end());
  all.insert(s->test.begin(), s->test.end());
  EXPECT_EQ(all.size(), y.size());  // disjoint and complete
  EXPECT_TRUE(std::is_sorted(s->test.begin(), s->test.end()));
}

TEST(StratifiedSplitTest, SeededAndSeedSensitive) {
  const std::vector<int> y = Labels(90, 10);
  EXPECT_EQ(StratifiedSplit(y, 0.3, 1)->test, StratifiedSplit(y, 0.3, 1)->test);
  EXPECT_NE(StratifiedSplit(y, 0.3, 1)->test, StratifiedSplit(y, 0.3, 2)->test);
}

TEST(StratifiedSplitTest, RareClassReachesBothSides) {
  // Two anomalies at 10%: round(0.2) = 0 would leave test without anomalies; clamping keeps one per
  // side.
  const std::vector<int> y = Labels(18, 2);
  auto s = StratifiedSplit(y, 0.1, 3);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(CountLabel(y, s->test, 1), 1);
  EXPECT_EQ(CountLabel(y, s->train, 1), 1);
  EXPECT_FALSE(StratifiedSplit(y, 1.0, 3).ok());
  EXPECT_FALSE(StratifiedSplit(y, 0.0, 3).ok());
  EXPECT_FALSE(StratifiedSplit({}, 0.5, 3).ok());
}

TEST(LeaveOneSourceOutTest, OneFoldPerSourceInNameOrder) {
  const std::vector<std::string> src = {"bgl", "apache", "bgl", "hdfs"};
  auto folds = LeaveOneSourceOut(src);
  ASSERT_TRUE(folds.ok());
  ASSERT_EQ(folds->size(), 3u);
  EXPECT_EQ((*folds)[0].held_out, "apache");
  EXPECT_EQ((*folds)[0].test, (std::vector<size_t>{1}));
  EXPECT_EQ((*folds)[0].train, (std::vector<size_t>{0, 2, 3}));
  EXPECT_EQ((*folds)[1].held_out, "bgl");
  EXPECT_EQ((*folds)[1].test, (std::vector<size_t>{0, 2}));
  EXPECT_EQ((*folds)[1].train, (std::vector<size_t>{1, 3}));
  EXPECT_FALSE(LeaveOneSourceOut(std::vector<std::string>{"a", "a"}).ok());
}

TEST(KShotTest, KPerClassRestIsQuery) {
  const std::vector<int> y = Labels(10, 5);
  auto s = SampleKShot(y, 3, 11);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(CountLabel(y, s->support, 0), 3);
  EXPECT_EQ(CountLabel(y, s->support, 1), 3);
  EXPECT_EQ(s->query.size(), 9u);
  std::vector<size_t> both;
  std::set_intersection(s->support.begin(), s->support.end(), s->query.begin(), s->query.end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty());
  EXPECT_EQ(SampleKShot(y, 3, 11)->support, s->support);
}

TEST(KShotTest, TooFewExamplesIsAnError) {
  auto s = SampleKShot(Labels(10, 2), 3, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("class 1"), std::string::npos);
  EXPECT_FALSE(SampleKShot(Labels(10, 2), 0, 1).ok());
}

}  // namespace
}  // namespace fedlog::eval
