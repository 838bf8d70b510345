#include "common/eval/metrics.h"

#include <cmath>
#include <vector>

#include "common/eval/threshold.h"
#include "gtest/gtest.h"

namespace fedlog::eval {
namespace {

// The worked example used by several tests:
//   labels  1    1    1    0    0    0    0    0
//   scores  0.9  0.8  0.4  0.7  0.4  0.3  0.2  0.1
// At threshold 0.5 the predictions are 1 1 0 1 0 0 0 0, so TP=2 FN=1 FP=1 TN=4.
//   precision = 2/3, recall = 2/3, F1 = 2/3
//   normal class: precision 4/5, recall 4/5, F1 4/5  ->  F1-macro = (2/3 + 4/5) / 2 = 11/15
//   balanced accuracy = (TPR 2/3 + TNR 4/5) / 2 = 11/15
//   MCC = (2*4 - 1*1) / sqrt(3*3*5*5) = 7/15
//   AUROC: 15 positive/negative pairs; 0.9 and 0.8 beat all 5 negatives (10), 0.4 beats 0.3 0.2 0.1
//   and ties
//          0.4 (3.5)  ->  13.5 / 15 = 0.9
//   AP: thresholds 0.9 (R 1/3, P 1), 0.8 (R 2/3, P 1), 0.7 (R 2/3), 0.4 (R 1, P 3/5)
//       -> 1/3*1 + 1/3*1 + 0 + 1/3*3/5 = 13/15
const std::vector<int> kLabels = {1, 1, 1, 0, 0, 0, 0, 0};
const std::vector<double> kScores = {0.9, 0.8, 0.4, 0.7, 0.4, 0.3, 0.2, 0.1};

TEST(MetricsTest, WorkedExampleAtThreshold) {
  auto m = EvaluateScores(kLabels, kScores, 0.5);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->confusion, (ConfusionMatrix{.tp = 2, .fp = 1, .tn = 4, .fn = 1}));
  EXPECT_DOUBLE_EQ(m->precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m->recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m->f1, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m->f1_macro, 11.0 / 15);
  EXPECT_DOUBLE_EQ(m->balanced_accuracy, 11.0 / 15);
  EXPECT_NEAR(m->mcc, 7.0 / 15, 1e-12);
  EXPECT_DOUBLE_EQ(m->auroc, 0.9);
  EXPECT_NEAR(m->pr_auc, 13.0 / 15, 1e-12);
  EXPECT_TRUE(m->ranking_defined);
}

TEST(MetricsTest, AurocExtremesAndAllTied) {
  const std::vector<int> y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(*Auroc(y, std::vector<double>{0.1, 0.2, 0.8, 0.9}), 1.0);
  EXPECT_DOUBLE_EQ(*Auroc(y, std::vector<double>{0.9, 0.8, 0.2, 0.1}), 0.0);
  // Every pair tied: each counts one half.
  EXPECT_DOUBLE_EQ(*Auroc(y, std::vector<double>{3, 3, 3, 3}), 0.5);
  // All tied -> one threshold with P = 2/4 and R = 1.
  EXPECT_DOUBLE_EQ(*AveragePrecision(y, std::vector<double>{3, 3, 3, 3}), 0.5);
}

TEST(MetricsTest, AllPredictedPositive) {
  // labels 1 0 0 0, predictions 1 1 1 1: TP=1 FP=3 TN=0 FN=0.
  // precision 1/4, recall 1, F1 = 2*(1/4)/(5/4) = 0.4; normal F1 = 0 (no normal predicted) -> macro
  // 0.2; balanced accuracy (1 + 0) / 2; MCC has a zero marginal (TN+FN = 0) -> 0.
  auto m = EvaluatePredictions(std::vector<int>{1, 0, 0, 0}, std::vector<int>{1, 1, 1, 1});
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->precision, 0.25);
  EXPECT_DOUBLE_EQ(m->recall, 1.0);
  EXPECT_DOUBLE_EQ(m->f1, 0.4);
  EXPECT_DOUBLE_EQ(m->f1_macro, 0.2);
  EXPECT_DOUBLE_EQ(m->balanced_accuracy, 0.5);
  EXPECT_EQ(m->mcc, 0.0);
  EXPECT_DOUBLE_EQ(m->auroc, 0.5);  // constant predictions rank nothing
  EXPECT_DOUBLE_EQ(m->pr_auc, 0.25);
}

TEST(MetricsTest, SingleClassIsDefinedNotNaN) {
  // Only normal samples, all predicted normal: anomalous-class metrics are 0, the normal class is
  // perfect.
  auto m = EvaluateScores(std::vector<int>{0, 0, 0}, std::vector<double>{0.1, 0.2, 0.3}, 0.5);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->precision, 0.0);
  EXPECT_EQ(m->recall, 0.0);
  EXPECT_EQ(m->f1, 0.0);
  EXPECT_DOUBLE_EQ(m->f1_macro, 0.5);
  EXPECT_DOUBLE_EQ(m->balanced_accuracy, 1.0);
  EXPECT_EQ(m->mcc, 0.0);
  EXPECT_DOUBLE_EQ(m->auroc, 0.5);
  EXPECT_EQ(m->pr_auc, 0.0);
  EXPECT_FALSE(m->ranking_defined);
  // Only anomalies, all caught.
  auto a = EvaluatePredictions(std::vector<int>{1, 1}, std::vector<int>{1, 1});
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(a->f1, 1.0);
  EXPECT_DOUBLE_EQ(a->balanced_accuracy, 1.0);
  EXPECT_FALSE(a->ranking_defined);
}

TEST(MetricsTest, EmptyInputGivesZeros) {
  auto m = EvaluatePredictions({}, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->confusion.Total(), 0);
  EXPECT_EQ(m->f1, 0.0);
  EXPECT_EQ(m->balanced_accuracy, 0.0);
  EXPECT_FALSE(std::isnan(m->mcc));
}

TEST(MetricsTest, RejectsBadInput) {
  EXPECT_EQ(ComputeConfusion(std::vector<int>{1, 0}, std::vector<int>{1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeConfusion(std::vector<int>{2}, std::vector<int>{1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeConfusion(std::vector<int>{1}, std::vector<int>{-1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Auroc(std::vector<int>{1, 0}, std::vector<double>{NAN, 0.0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ThresholdTest, PicksMaxF1OnWorkedExample) {
  // Sweep (predict >= t): 0.9 -> F1 1/2; 0.8 -> P 1, R 2/3, F1 4/5; 0.7 -> 2/3; 0.4 -> P 3/5, R 1,
  // F1 3/4; 0.3 -> 2/3; lower thresholds keep R = 1 with falling precision. Best: 0.8 with F1 0.8.
  auto t = SelectThresholdMaxF1(kLabels, kScores);
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->threshold, 0.8);
  EXPECT_DOUBLE_EQ(t->f1, 0.8);
  auto at = EvaluateScores(kLabels, kScores, t->threshold);
  EXPECT_DOUBLE_EQ(at->f1, t->f1);
}

TEST(ThresholdTest, TiesPreferTheHigherThreshold) {
  // labels 1 0 0 1, scores 4 3 2 1: t=4 -> F1 2/3; t=3 -> 1/2; t=2 -> 2/5; t=1 -> 2/3. Tie -> 4.
  auto t = SelectThresholdMaxF1(std::vector<int>{1, 0, 0, 1}, std::vector<double>{4, 3, 2, 1});
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->threshold, 4);
  EXPECT_DOUBLE_EQ(t->f1, 2.0 / 3);
}

TEST(ThresholdTest, MidGapMovesIntoTheGapBelowTheBestCandidate) {
  // Worked example above: best candidate 0.8, next lower score 0.7 -> 0.75, same validation F1.
  auto t = SelectThresholdMaxF1MidGap(kLabels, kScores);
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->threshold, 0.75);
  EXPECT_DOUBLE_EQ(EvaluateScores(kLabels, kScores, t->threshold)->f1, 0.8);
  // Separated classes: halfway between the lowest anomaly (0.8) and the highest normal (0.3).
  auto sep = SelectThresholdMaxF1MidGap(std::vector<int>{1, 1, 0, 0},
                                        std::vector<double>{0.9, 0.8, 0.3, 0.1});
  ASSERT_TRUE(sep.ok());
  EXPECT_DOUBLE_EQ(sep->threshold, 0.55);
  EXPECT_DOUBLE_EQ(sep->f1, 1.0);
  // Nothing below the candidate: it stays.
  auto low = SelectThresholdMaxF1MidGap(std::vector<int>{1, 1}, std::vector<double>{0.9, 0.8});
  ASSERT_TRUE(low.ok());
  EXPECT_DOUBLE_EQ(low->threshold, 0.8);
  EXPECT_FALSE(SelectThresholdMaxF1MidGap({}, {}).ok());
}

TEST(ThresholdTest, NoAnomaliesFlagsNothing) {
  const std::vector<double> s = {0.2, 0.7};
  auto t = SelectThresholdMaxF1(std::vector<int>{0, 0}, s);
  ASSERT_TRUE(t.ok());
  EXPECT_GT(t->threshold, 0.7);
  EXPECT_EQ(t->f1, 0.0);
  EXPECT_EQ(EvaluateScores(std::vector<int>{0, 0}, s, t->threshold)->confusion.fp, 0);
  EXPECT_FALSE(SelectThresholdMaxF1({}, {}).ok());
}

}  // namespace
}  // namespace fedlog::eval
