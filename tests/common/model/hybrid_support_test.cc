#include "common/model/hybrid_support.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/model/hybrid_cut.h"
#include "gtest/gtest.h"
#include "tests/common/model/unit_vectors.h"

namespace fedlog::model {
namespace {

using testing::At;
using testing::Rows;

TEST(HybridSupportTest, TokenJaccard) {
  EXPECT_DOUBLE_EQ(TokenJaccard({1, 2, 3}, {2, 3, 4}), 0.5);
  EXPECT_DOUBLE_EQ(TokenJaccard({1, 2}, {1, 2}), 1.0);
  EXPECT_DOUBLE_EQ(TokenJaccard({1}, {2}), 0.0);
  EXPECT_DOUBLE_EQ(TokenJaccard({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(TokenJaccard({-5, 1}, {-5}), 0.5);
}

TEST(HybridSupportTest, WeightZeroIsJaccardOneNearestNeighbour) {
  HybridSupportOptions o;
  o.weights = {0.0};
  const auto det = HybridSupportDetector::Fit(Rows({At(0), At(90)}), 2, {{1, 2, 3}, {7, 8}}, {0, 1},
                                              o);
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_DOUBLE_EQ(det->weight(), 0.0);
  const std::vector<float> e = At(0);  // the cosine says normal; only tokens count at w = 0
  EXPECT_DOUBLE_EQ(det->Score(e.data(), {7, 8, 9}), 2.0 / 3.0 - 0.0);
  EXPECT_DOUBLE_EQ(det->Score(e.data(), {1, 2, 8}), 0.25 - 0.5);
}

TEST(HybridSupportTest, LeaveOneOutPicksTheEncoderWhenTokensMislead) {
  // Normal lines near 0 degrees, anomalous near 90; the token sets are shared across classes
  // (each anomalous line shares its tokens with a normal one), so only the cosine separates them.
  const std::vector<float> support = Rows({At(0), At(5), At(10), At(90), At(95), At(100)});
  const std::vector<std::vector<int64_t>> tokens = {{1, 2}, {3, 4}, {5, 6}, {1, 2}, {3, 4}, {5, 6}};
  const auto det = HybridSupportDetector::Fit(support, 2, tokens, {0, 0, 0, 1, 1, 1}, {});
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_GT(det->weight(), 0.5);
  EXPECT_DOUBLE_EQ(det->support_f1_macro(), 1.0);
  const std::vector<float> e = At(92);
  EXPECT_GT(det->Score(e.data(), {1, 2}), 0);
}

TEST(HybridSupportTest, LeaveOneOutPicksTokensWhenTheCosineMisleads) {
  // All embeddings point the same way except that each anomalous line sits nearer a normal one;
  // the tokens separate the classes ({1..} normal, {9..} anomalous).
  const std::vector<float> support = Rows({At(0), At(60), At(120), At(1), At(61), At(121)});
  const std::vector<std::vector<int64_t>> tokens = {{1, 2}, {1, 3}, {1, 4},
                                                    {9, 10}, {9, 11}, {9, 12}};
  const auto det = HybridSupportDetector::Fit(support, 2, tokens, {0, 0, 0, 1, 1, 1}, {});
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_LT(det->weight(), 0.5);
  const std::vector<float> e = At(0);
  EXPECT_GT(det->Score(e.data(), {9, 13}), 0);
}

TEST(HybridSupportTest, OneClassKeepsTheTieWeightAndBadInputFails) {
  const auto one = HybridSupportDetector::Fit(Rows({At(0), At(5)}), 2, {{1}, {2}}, {0, 0}, {});
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_DOUBLE_EQ(one->weight(), 0.5);
  const std::vector<float> e = At(0);
  EXPECT_LT(one->Score(e.data(), {1}), 0);  // no anomalous unit: similarity 0 on that side
  EXPECT_FALSE(HybridSupportDetector::Fit(Rows({At(0)}), 2, {{1}, {2}}, {0, 1}, {}).ok());
  HybridSupportOptions bad;
  bad.weights = {1.5};
  EXPECT_FALSE(HybridSupportDetector::Fit(Rows({At(0)}), 2, {{1}}, {0}, bad).ok());
  bad.weights = {};
  EXPECT_FALSE(bad.Validate().ok());
}

TEST(HybridCutTest, F1MacroAtCountsBothClasses) {
  // Alerts at >= 0.5: lines 2 and 3; line 3 is a false alarm, line 1 a miss.
  const std::vector<double> scores = {0.1, 0.2, 0.9, 0.6};
  const std::vector<int> labels = {0, 1, 1, 0};
  // anomalous F1 = 2/(2+1+1) = 0.5, normal F1 = 2/(2+1+1) = 0.5.
  EXPECT_DOUBLE_EQ(F1MacroAt(scores, labels, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(F1MacroAt(scores, labels, 0.85), (2.0 / 3.0 + 0.8) / 2);
  EXPECT_DOUBLE_EQ(F1MacroAt(scores, labels, 2.0), (2.0 / 3.0) / 2);  // no alert: anomalous F1 0
}

TEST(HybridCutTest, CutForAlertCountAlertsTheTopNAndSendsTiesToNormal) {
  const std::vector<double> scores = {0.3, -0.1, 0.7, 0.3, 0.0, 0.9};
  const auto alerted = [&](double t) {
    return std::count_if(scores.begin(), scores.end(), [&](double s) { return s >= t; });
  };
  EXPECT_EQ(alerted(CutForAlertCount(scores, 2)), 2);  // 0.9 and 0.7
  EXPECT_DOUBLE_EQ(CutForAlertCount(scores, 2), 0.7);
  // The 3rd and 4th highest tie at 0.3: both stay normal, two alerts rather than three.
  EXPECT_EQ(alerted(CutForAlertCount(scores, 3)), 2);
  EXPECT_EQ(alerted(CutForAlertCount(scores, 4)), 4);
  EXPECT_EQ(alerted(CutForAlertCount(scores, 0)), 0);
  EXPECT_EQ(alerted(CutForAlertCount(scores, 6)), 6);
  EXPECT_EQ(alerted(CutForAlertCount(scores, 99)), 6);
  EXPECT_GT(CutForAlertCount({}, 3), 1e300);
  // A stream of duplicates: five equal top scores, a count of 3. kNormal drops all five (no alert),
  // kNearest keeps them (5 is nearer 3 than 0 is); with a count of 2 the block stays out (2 - 0 is
  // nearer than 5 - 2).
  const std::vector<double> dup = {3, 3, 3, 3, 3, 0.5, 0.2};
  const auto dup_alerted = [&](double t) {
    return std::count_if(dup.begin(), dup.end(), [&](double s) { return s >= t; });
  };
  EXPECT_EQ(dup_alerted(CutForAlertCount(dup, 3)), 0);
  EXPECT_EQ(dup_alerted(CutForAlertCount(dup, 3, CountTies::kNearest)), 5);
  EXPECT_EQ(dup_alerted(CutForAlertCount(dup, 2, CountTies::kNearest)), 0);
  EXPECT_EQ(dup_alerted(CutForAlertCount(dup, 6, CountTies::kNearest)), 6);
  EXPECT_EQ(alerted(CutForAlertCount(scores, 3, CountTies::kNearest)), 2);  // 2 and 4 tie: below
}

TEST(HybridCutTest, OffsetTallyPicksTheMarginThePseudoTargetsPrefer) {
  auto tally = OffsetTally::Create({0.0, 0.5}, {-0.1, 0.0, 0.1, 0.2});
  ASSERT_TRUE(tally.ok()) << tally.status();
  // At w = 0.5 the normal lines score 0.05-0.15 (the cosine pulls them over 0) and the anomalous
  // ones 0.3-0.4: a margin of 0.2 separates them, and 0.2 is the only offset that does.
  ASSERT_TRUE(tally->Add(1, {0.05, 0.15, 0.12, 0.3, 0.4}, {0, 0, 0, 1, 1}).ok());
  ASSERT_TRUE(tally->Add(1, {0.1, 0.06, 0.35}, {0, 0, 1}).ok());
  auto best = tally->BestOffset(0.5);
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_DOUBLE_EQ(*best, 0.2);
  EXPECT_DOUBLE_EQ(tally->Mean(1, 3), 1.0);
  // At w = 0 a clean split at 0: offsets 0 and 0.1 both reach 1, the one nearer 0 wins; the 1-NN
  // rule's strict comparison keeps the score-0 line normal at offset 0.
  ASSERT_TRUE(tally->Add(0, {0.0, -0.2, 0.3}, {0, 0, 1}).ok());
  best = tally->BestOffset(0.0);
  ASSERT_TRUE(best.ok());
  EXPECT_DOUBLE_EQ(*best, 0.0);
  EXPECT_EQ(tally->BestOffset(0.7).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(tally->Add(2, {0.1}, {0}).ok());
  EXPECT_FALSE(tally->Add(0, {0.1, 0.2}, {0}).ok());
  auto empty = OffsetTally::Create({1.0}, {0.0});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->BestOffset(1.0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(OffsetTally::Create({}, {0.0}).ok());
  EXPECT_FALSE(OffsetTally::Create({0.5}, {std::nan("")}).ok());
}

}  // namespace
}  // namespace fedlog::model
