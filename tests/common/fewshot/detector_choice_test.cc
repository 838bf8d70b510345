// Which detector scores a source (common/fewshot/detector_choice.h): the leave-one-out verdicts of the
// model's nearest labelled unit and of the few-shot rule, and the choice they lead to.
#include "common/fewshot/detector_choice.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedlog::fewshot {
namespace {

Unit Make(int32_t tpl, const std::string& text, std::vector<float> embedding, bool free_alert) {
  Unit u;
  AddTokens(tpl, text, &u);
  Finish(&u);
  u.embedding = std::move(embedding);
  u.free_alert = free_alert;
  u.free_score = free_alert ? 0.9 : 0.1;
  return u;
}

LooVerdict V(int label, bool model, bool free) { return {label, model, true, free}; }

TEST(DetectorChoiceTest, ParsesModesAndValidatesTheMargin) {
  EXPECT_EQ(*ParseChoiceMode(""), ChoiceMode::kAuto);
  EXPECT_EQ(*ParseChoiceMode("auto"), ChoiceMode::kAuto);
  EXPECT_EQ(*ParseChoiceMode("model"), ChoiceMode::kModel);
  EXPECT_EQ(*ParseChoiceMode("label_free"), ChoiceMode::kLabelFree);
  EXPECT_FALSE(ParseChoiceMode("label-free").ok());
  EXPECT_EQ(ChoiceModeName(ChoiceMode::kLabelFree), "label_free");
  ChoiceOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.margin = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o.margin = -0.1;
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_EQ(*ParseCompareUnits(""), ChoiceOptions().compare);
  EXPECT_EQ(*ParseCompareUnits("templates"), CompareUnits::kTemplates);
  EXPECT_EQ(*ParseCompareUnits("lines"), CompareUnits::kLines);
  EXPECT_FALSE(ParseCompareUnits("line").ok());
  EXPECT_EQ(CompareUnitsName(CompareUnits::kLines), "lines");
}

TEST(DetectorChoiceTest, AutoNeedsLabelsOfBothClassesAndAMargin) {
  ChoiceOptions o;
  o.margin = 0.1;
  // The model right on every label, the label-free detector alerting on every one (F1 2/3).
  std::vector<LooVerdict> v = {V(1, true, true), V(1, true, true), V(0, false, true), V(0, false, true)};
  Choice c = ChooseDetector(o, true, true, v);
  EXPECT_FALSE(c.model) << c.reason;  // 2 per class: not enough to compare
  EXPECT_EQ(c.anomalous, 2);
  v.push_back(V(1, true, true));
  v.push_back(V(0, false, true));
  c = ChooseDetector(o, true, true, v);
  // 3 per class, F1 1.0 against 0.667: the lead is there, but the model alone is right on only 3
  // units (P = 1/8 under chance), short of the evidence a choice of the model needs.
  EXPECT_FALSE(c.model) << c.reason;
  EXPECT_EQ(c.model_only_right, 3);
  EXPECT_EQ(c.label_free_only_right, 0);
  EXPECT_NEAR(c.evidence_p, 0.125, 1e-12);
  v.push_back(V(0, false, true));
  v.push_back(V(0, false, true));  // 5 units only the model gets right: P = 1/32
  c = ChooseDetector(o, true, true, v);
  EXPECT_TRUE(c.model) << c.reason;
  EXPECT_DOUBLE_EQ(c.model_f1, 1.0);
  EXPECT_NEAR(c.label_free_f1, 6.0 / 11.0, 1e-12);
  o.margin = 0.5;  // 1.0 is not more than 0.545 + 0.5
  EXPECT_FALSE(ChooseDetector(o, true, true, v).model);
  // Verdicts without a model embedding do not count.
  for (LooVerdict& x : v) x.has_model = false;
  EXPECT_FALSE(ChooseDetector(ChoiceOptions{}, true, true, v).model);
}

TEST(DetectorChoiceTest, SignTestAndEvidenceAgainstAFewLuckyUnits) {
  EXPECT_DOUBLE_EQ(SignTestP(0, 4), 1.0);
  EXPECT_NEAR(SignTestP(5, 0), 1.0 / 32, 1e-12);
  EXPECT_NEAR(SignTestP(6, 1), 8.0 / 128, 1e-12);  // 7 + 1 of 2^7
  EXPECT_NEAR(SignTestP(7, 1), 9.0 / 256, 1e-12);
  EXPECT_NEAR(SignTestP(50, 50), 0.5397946186935895, 1e-9);
  // Active picks: the label-free detector wrong on the four anomalies it was unsure of, right on the
  // normals the model calls anomalous twice. F1 0.8 against 0: a lead far past the margin, on 6 units
  // of disagreement of which the model wins 4 (P = 11/32): label-free stays.
  std::vector<LooVerdict> v = {V(1, true, false), V(1, true, false), V(1, true, false), V(1, true, false),
                               V(0, true, false), V(0, true, false), V(0, false, false), V(0, false, false)};
  const Choice c = ChooseDetector(ChoiceOptions{}, true, true, v);
  EXPECT_FALSE(c.model) << c.reason;
  EXPECT_NEAR(c.evidence_p, 11.0 / 32, 1e-12);
  EXPECT_NE(c.reason.find("sign test p 0.344"), std::string::npos) << c.reason;
}

TEST(DetectorChoiceTest, ForcedModesAndMissingDetectors) {
  const std::vector<LooVerdict> none;
  EXPECT_TRUE(ChooseDetector({ChoiceMode::kModel}, true, true, none).model);
  EXPECT_FALSE(ChooseDetector({ChoiceMode::kLabelFree}, true, true, none).model);
  EXPECT_FALSE(ChooseDetector({ChoiceMode::kAuto}, true, true, none).model);
  // Only one detector: it scores, whatever the mode.
  EXPECT_TRUE(ChooseDetector({ChoiceMode::kLabelFree}, true, false, none).model);
  EXPECT_FALSE(ChooseDetector({ChoiceMode::kModel}, false, true, none).model);
}

TEST(DetectorChoiceTest, LeaveOneOutVerdictsLeaveTwinsOutAndUseTheEmbeddings) {
  // Anomalies near each other in the embedding but not in their words; the label-free detector
  // alerts on the normal lines. A twin (same tokens) of the first anomaly does not decide it.
  const std::vector<Unit> units = {
      Make(1, "torus alpha", {1, 0.1f}, false),   Make(1, "torus alpha", {1, 0.1f}, false),
      Make(2, "kernel beta", {1, 0.2f}, false),   Make(3, "cache gamma", {1, 0.15f}, false),
      Make(4, "job started", {0.1f, 1}, true),    Make(5, "node booted", {0.2f, 1}, true),
      Make(6, "user login", {0.15f, 1}, true)};
  const std::vector<int> labels = {1, 1, 1, 1, 0, 0, 0};
  FewShotOptions fo;
  fo.match = 0.5;
  auto v = LeaveOneOutVerdicts(units, labels, fo, 0.5, {0.1, 0.2, 0.3, 0.9}, CompareUnits::kTemplates);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 6u);  // the twins give one verdict
  for (const LooVerdict& x : *v) {
    EXPECT_TRUE(x.has_model);
    EXPECT_EQ(x.model_alert, x.label == 1);
    EXPECT_EQ(x.label_free_alert, x.label == 0);  // no other label near: the label-free alert
  }
  const Choice c = ChooseDetector(ChoiceOptions{}, true, true, *v);
  EXPECT_TRUE(c.model) << c.reason;
  EXPECT_DOUBLE_EQ(c.label_free_f1, 0.0);
  EXPECT_FALSE(LeaveOneOutVerdicts(units, {1}, fo, 0.5, {}, CompareUnits::kTemplates).ok());
}

// A site whose labels repeat its common templates: leave-one-out by token set judges the label-free
// detector only on the singletons it gets wrong, while on the stream its exact matches decide most
// lines. `lines` keeps each line's twins in the support, so the twins count as the stream would.
TEST(DetectorChoiceTest, LinesKeepTwinsAndWeighTheComparisonByLines) {
  std::vector<Unit> units;
  std::vector<int> labels;
  for (int i = 0; i < 4; ++i) {
    units.push_back(Make(1, "torus alpha", {1, 0.1f}, false));
    labels.push_back(1);
    units.push_back(Make(4, "job started", {0.1f, 1}, true));
    labels.push_back(0);
  }
  const std::vector<Unit> singles = {Make(2, "kernel beta", {1, 0.2f}, false), Make(3, "cache gamma", {1, 0.15f}, false),
                                     Make(5, "node booted", {0.2f, 1}, true), Make(6, "user login", {0.15f, 1}, true)};
  for (size_t i = 0; i < singles.size(); ++i) {
    units.push_back(singles[i]);
    labels.push_back(i < 2 ? 1 : 0);
  }
  FewShotOptions fo;
  fo.match = 0.5;
  const std::vector<double> reference = {0.1, 0.2, 0.3, 0.9};
  auto by_set = LeaveOneOutVerdicts(units, labels, fo, 0.5, reference, CompareUnits::kTemplates);
  ASSERT_TRUE(by_set.ok()) << by_set.status();
  ASSERT_EQ(by_set->size(), 6u);
  const Choice t = ChooseDetector(ChoiceOptions{}, true, true, *by_set);
  EXPECT_TRUE(t.model) << t.reason;  // 1.0 against 0.0 on 6 sets, p = 1/64
  EXPECT_DOUBLE_EQ(t.label_free_f1, 0.0);

  auto by_line = LeaveOneOutVerdicts(units, labels, fo, 0.5, reference, CompareUnits::kLines);
  ASSERT_TRUE(by_line.ok()) << by_line.status();
  ASSERT_EQ(by_line->size(), units.size());
  int twins = 0;
  for (size_t i = 0; i < units.size(); ++i) {
    const LooVerdict& x = (*by_line)[i];
    EXPECT_EQ(x.label, labels[i]);
    EXPECT_EQ(x.model_alert, x.label == 1);
    twins += x.twin ? 1 : 0;
    // Twins decide the repeated templates; the singletons keep the (wrong) label-free alert.
    EXPECT_EQ(x.label_free_alert, i < 8 ? x.label == 1 : x.label == 0) << i;
  }
  EXPECT_EQ(twins, 6);
  ChoiceOptions lines;
  lines.compare = CompareUnits::kLines;
  const Choice c = ChooseDetector(lines, true, true, *by_line);
  EXPECT_EQ(c.anomalous, 3);  // distinct sets, as the minimum counts them
  EXPECT_EQ(c.normal, 3);
  EXPECT_EQ(c.compared, 12);
  EXPECT_DOUBLE_EQ(c.model_f1, 1.0);
  EXPECT_NEAR(c.label_free_f1, 8.0 / 12.0, 1e-12);  // tp 4, fp 2, fn 2
  // A lead past the margin, but only 4 lines of disagreement (p = 1/16): the label-free side stays.
  EXPECT_EQ(c.model_only_right, 4);
  EXPECT_EQ(c.label_free_only_right, 0);
  EXPECT_FALSE(c.model) << c.reason;
  EXPECT_NE(c.reason.find("on 12 labelled lines"), std::string::npos) << c.reason;
  // Two distinct anomalous sets are too few under either units, however many lines repeat them.
  std::vector<Unit> narrow(units.begin(), units.begin() + 8);
  std::vector<int> narrow_y(labels.begin(), labels.begin() + 8);
  narrow.push_back(singles[0]);
  narrow_y.push_back(1);
  auto few = LeaveOneOutVerdicts(narrow, narrow_y, fo, 0.5, reference, CompareUnits::kLines);
  ASSERT_TRUE(few.ok());
  EXPECT_NE(ChooseDetector(lines, true, true, *few).reason.find("2 anomalous and 1 normal"), std::string::npos);
}

}  // namespace
}  // namespace fedlog::fewshot
