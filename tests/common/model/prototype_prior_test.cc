#include "common/model/prototype_prior.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/model/unit_vectors.h"

namespace fedlog::model {
namespace {

using testing::At;
using testing::Rows;

TEST(PrototypePriorTest, GlobalPrototypesScoreWithoutLabels) {
  // Normal at 0 degrees, anomalous at 90 (scaled: only the direction counts).
  const std::vector<float> global = {2, 0, 0, 3};
  auto p = PrototypePrior::Fit(global, 2, {}, {});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->ready());
  EXPECT_NEAR(p->Score(At(90).data()), 1.0, 1e-6);
  EXPECT_NEAR(p->Score(At(0).data()), -1.0, 1e-6);
  EXPECT_NEAR(p->Score(At(45).data()), 0.0, 1e-6);
}

TEST(PrototypePriorTest, TheSiteAloneHasNoPrototypeUntilItHasBothClasses) {
  auto none = PrototypePrior::Fit({}, 2, {}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->ready());
  EXPECT_EQ(none->Score(At(90).data()), 0.0);
  auto one = PrototypePrior::Fit({}, 2, At(90), {1});
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->ready());
  auto both = PrototypePrior::Fit({}, 2, Rows({At(0), At(90)}), {0, 1});
  ASSERT_TRUE(both.ok());
  ASSERT_TRUE(both->ready());
  EXPECT_NEAR(both->Score(At(90).data()), 1.0, 1e-6);
}

TEST(PrototypePriorTest, LabelsShrinkThePriorTowardsTheSite) {
  // The federation says anomalous at 90 degrees; the site's anomalies lie at 270 (normal at 0 for
  // both, so the two directions are equally far from normal).
  const std::vector<float> global = Rows({At(0), At(90)});
  PrototypePriorOptions o;
  o.prior_count = 5;
  auto few = PrototypePrior::Fit(global, 2, Rows({At(0), At(270)}), {0, 1}, o);
  std::vector<std::vector<float>> many_rows;
  std::vector<int> many_labels;
  for (int i = 0; i < 50; ++i) {
    many_rows.push_back(At(0));
    many_labels.push_back(0);
    many_rows.push_back(At(270));
    many_labels.push_back(1);
  }
  auto many = PrototypePrior::Fit(global, 2, Rows(many_rows), many_labels, o);
  ASSERT_TRUE(few.ok() && many.ok());
  const std::vector<float> site_anomaly = At(270), federation_anomaly = At(90);
  // One label against five pseudo-lines leaves the federation's direction; fifty turn it round.
  EXPECT_GT(few->Score(federation_anomaly.data()), few->Score(site_anomaly.data()));
  EXPECT_LT(many->Score(federation_anomaly.data()), many->Score(site_anomaly.data()));
  EXPECT_NEAR(many->Score(site_anomaly.data()), 1.0, 1e-6);
  EXPECT_NEAR(few->Score(federation_anomaly.data()), 1.0, 1e-6);
}

TEST(PrototypePriorTest, RejectsBadInput) {
  EXPECT_FALSE(PrototypePrior::Fit({1, 0, 0}, 2, {}, {}).ok());          // global of the wrong size
  EXPECT_FALSE(PrototypePrior::Fit({}, 2, At(0), {0, 1}).ok());          // support and labels disagree
  EXPECT_FALSE(PrototypePrior::Fit({}, 0, {}, {}).ok());                  // no dimension
  PrototypePriorOptions o;
  o.prior_count = 0;
  EXPECT_FALSE(PrototypePrior::Fit({}, 2, {}, {}, o).ok());
  // A zero global row counts as absent: that class has no prototype.
  auto zero = PrototypePrior::Fit({0, 0, 0, 1}, 2, {}, {});
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->ready());
}

TEST(RankFuseTest, MixesQuantilesAmongTheReference) {
  const std::vector<double> base = {0.1, 0.2, 0.3, 0.4};
  const std::vector<double> prior = {40, 30, 20, 10};  // the opposite order, another scale
  auto only_base = RankFuse(base, prior, 0.0, {0, 1, 2, 3});
  auto half = RankFuse(base, prior, 0.5, {0, 1, 2, 3});
  auto no_prior = RankFuse(base, {}, 0.5, {0, 1, 2, 3});
  ASSERT_TRUE(only_base.ok() && half.ok() && no_prior.ok());
  EXPECT_DOUBLE_EQ((*only_base)[0], 0.125);  // mid-rank of the lowest of four
  EXPECT_DOUBLE_EQ((*only_base)[3], 0.875);
  for (double v : *half) EXPECT_DOUBLE_EQ(v, 0.5);  // opposite ranks cancel
  EXPECT_EQ(*no_prior, *only_base);
  EXPECT_FALSE(RankFuse(base, prior, 1.5, {0}).ok());
  EXPECT_FALSE(RankFuse(base, {1.0}, 0.5, {0}).ok());
  EXPECT_FALSE(RankFuse(base, prior, 0.5, {}).ok());
}

TEST(RateMatchedAlertsTest, AlertsAsManyAsTheLabelFreeDetectorInTheWindow) {
  // The label-free detector alerts on one unit in every four; the fused score puts a different
  // unit on top: the fused alerts follow the fused order at the label-free detector's rate.
  std::vector<double> score;
  std::vector<uint8_t> free_alert;
  for (int i = 0; i < 40; ++i) {
    score.push_back(i % 4 == 2 ? 1.0 : 0.1 * (i % 4));
    free_alert.push_back(i % 4 == 0 ? 1 : 0);
  }
  auto a = RateMatchedAlerts(score, free_alert, 8);
  ASSERT_TRUE(a.ok()) << a.status();
  int alerts = 0;
  for (size_t i = 8; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i], i % 4 == 2 ? 1 : 0) << i;
    alerts += (*a)[i];
  }
  EXPECT_EQ(alerts, 8);
  EXPECT_EQ((*a)[0], 0);  // nothing before it
}

TEST(RateMatchedAlertsTest, NoLabelFreeAlertsNoAlerts) {
  auto a = RateMatchedAlerts({0.9, 0.95, 0.99}, {0, 0, 0}, 2);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_FALSE(RateMatchedAlerts({0.1}, {0, 0}, 2).ok());
  EXPECT_FALSE(RateMatchedAlerts({0.1}, {0}, 0).ok());
}

}  // namespace
}  // namespace fedlog::model
