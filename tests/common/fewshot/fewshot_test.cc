// The k > 0 detector: tokens, Jaccard, the 1-NN baseline, and a detector that uses both the support's
// words and the label-free signals.
#include "common/fewshot/fewshot.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

Unit Make(int32_t tpl, const std::string& text, std::vector<double> signals) {
  Unit u;
  AddTokens(tpl, text, &u);
  Finish(&u);
  u.signals = std::move(signals);
  return u;
}

TEST(FewShotTest, TokensDropNumbersAndJaccardCounts) {
  const Unit a = Make(1, "disk sda1 failed after 3 tries", {});
  const Unit b = Make(1, "disk sdb2 failed after 7 tries", {});
  // T1, disk, failed, after, tries (sda1 / 3 / sdb2 / 7 hold digits).
  EXPECT_EQ(a.tokens.size(), 5u);
  EXPECT_DOUBLE_EQ(Jaccard(a.tokens, b.tokens), 1.0);
  const Unit c = Make(2, "disk ok", {});
  EXPECT_DOUBLE_EQ(Jaccard(a.tokens, c.tokens), 1.0 / 7.0);  // {disk} of {T1,T2,disk,failed,after,tries,ok}
  EXPECT_DOUBLE_EQ(Jaccard({}, {}), 0.0);
}

TEST(FewShotTest, Jaccard1nnFollowsTheNearestClass) {
  const std::vector<Unit> support = {Make(1, "kernel panic on node", {}), Make(2, "job finished fine", {})};
  const std::vector<int> labels = {1, 0};
  EXPECT_GT(Jaccard1nnScore(Make(1, "kernel panic on rack", {}), support, labels), 0);
  EXPECT_LT(Jaccard1nnScore(Make(2, "job finished fine again", {}), support, labels), 0);
  // Leaving the only anomalous unit out, nothing is anomalous-like.
  EXPECT_LE(Jaccard1nnScore(support[0], support, labels, 0), 0);
}

TEST(FewShotTest, DetectorNeedsBothClasses) {
  const std::vector<Unit> s = {Make(1, "a", {0}), Make(1, "b", {0})};
  EXPECT_FALSE(FewShotDetector::Fit(s, {1, 1}).ok());
  EXPECT_FALSE(FewShotDetector::Fit(s, {1}).ok());
  EXPECT_FALSE(FewShotDetector::Fit({Make(1, "a", {0}), Make(1, "b", {})}, {1, 0}).ok());
}

// Words alone cannot tell these units apart (every unit says the same); the label-free signal can.
// The 1-NN baseline is blind here, the detector is not.
TEST(FewShotTest, DetectorUsesTheLabelFreeSignals) {
  std::vector<Unit> support;
  std::vector<int> labels;
  for (int i = 0; i < 5; ++i) {
    support.push_back(Make(1, "request served", {8.0 + i * 0.3}));
    labels.push_back(1);
    support.push_back(Make(1, "request served", {0.2 + i * 0.1}));
    labels.push_back(0);
  }
  auto d = FewShotDetector::Fit(support, labels);
  ASSERT_TRUE(d.ok()) << d.status();
  const Unit hot = Make(1, "request served", {9.0});
  const Unit cold = Make(1, "request served", {0.3});
  EXPECT_GT(d->Score(hot), d->threshold());
  EXPECT_LT(d->Score(cold), d->threshold());
  EXPECT_DOUBLE_EQ(Jaccard1nnScore(hot, support, labels), Jaccard1nnScore(cold, support, labels));
}

TEST(FewShotTest, DetectorUsesTheSupportWords) {
  std::vector<Unit> support;
  std::vector<int> labels;
  const std::vector<std::string> bad = {"machine check interrupt", "kernel panic halted",
                                        "ciod failed to read message", "data storage interrupt",
                                        "rts tree network failure"};
  for (size_t i = 0; i < bad.size(); ++i) {
    support.push_back(Make(static_cast<int32_t>(10 + i), bad[i], {1.0}));
    labels.push_back(1);
    support.push_back(Make(static_cast<int32_t>(i), "generating core number " + std::to_string(i), {1.0}));
    labels.push_back(0);
  }
  auto d = FewShotDetector::Fit(support, labels);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_GT(d->Score(Make(12, "ciod failed to read message prefix", {1.0})),
            d->Score(Make(3, "generating core number", {1.0})));
  EXPECT_GT(d->Score(Make(12, "ciod failed to read message prefix", {1.0})), d->threshold());
}

}  // namespace
}  // namespace fedlog::fewshot
