#include "common/labels/labeling_assistant.h"

#include <string>

#include "common/labels/template_similarity.h"
#include "gtest/gtest.h"

namespace fedlog::labels {
namespace {

TEST(TemplateSimilarityTest, HandComputedCases) {
  // 9 tokens vs 11: the wildcard after "for" absorbs "invalid", "user" and one "<*>" are insertions
  // -> distance 2, similarity 1 - 2/11.
  EXPECT_DOUBLE_EQ(
      TemplateSimilarity("Failed password for <*> from <*> port <*> ssh2",
                         "Failed password for invalid user <*> from <*> port <*> ssh2"),
      1.0 - 2.0 / 11);
  // One substitution in 9 tokens.
  EXPECT_DOUBLE_EQ(TemplateSimilarity("Failed password for <*> from <*> port <*> ssh2",
                                      "Accepted password for <*> from <*> port <*> ssh2"),
                   1.0 - 1.0 / 9);
  // Wildcards match any token; whitespace runs do not matter.
  EXPECT_DOUBLE_EQ(TemplateSimilarity("a  <*> c", "a b\tc"), 1.0);
  EXPECT_DOUBLE_EQ(TemplateSimilarity("", ""), 1.0);
  EXPECT_DOUBLE_EQ(TemplateSimilarity("a b", ""), 0.0);
  // Order matters: a swap of two tokens costs two substitutions.
  EXPECT_DOUBLE_EQ(TemplateSimilarity("a b c d", "b a c d"), 0.5);
}

PatternLibrary SshRules() {
  auto lib = PatternLibrary::FromYaml(
      "patterns:\n  - name: ssh_failed_login\n    anomaly_type: security_anomaly\n"
      "    keywords: [\"failed password\"]\n");
  EXPECT_TRUE(lib.ok()) << lib.status();
  return *std::move(lib);
}

const LogRecord kSshLine{"E1", "Failed password for <*> from <*> port <*> ssh2",
                         "Failed password for root from 10.0.0.1 port 22 ssh2"};
// 8 tokens vs the known 7-token "Out of <*> disk quota on <*>": one insertion -> 1 - 1/8 = 0.875.
const LogRecord kQuotaLine{"E7", "Out of <*> disk quota on <*> now",
                           "Out of user disk quota on /home now"};

TEST(LabelingAssistantTest, RuleThenFuzzyThenNothing) {
  LabelingAssistant assistant(SshRules());
  ASSERT_TRUE(
      assistant.AddAnomalousTemplate("K1", "Out of <*> disk quota on <*>", "config_error").ok());
  std::optional<Label> rule = assistant.Suggest(kSshLine);
  ASSERT_TRUE(rule.has_value());
  EXPECT_TRUE(rule->anomalous);
  EXPECT_EQ(rule->provenance.ToString(), "rule:ssh_failed_login");
  std::optional<Label> fuzzy = assistant.Suggest(kQuotaLine);
  ASSERT_TRUE(fuzzy.has_value());
  EXPECT_EQ(fuzzy->anomaly_type, "config_error");
  EXPECT_EQ(fuzzy->provenance.ToString(), "fuzzy:K1");
  EXPECT_NEAR(assistant.BestFuzzyMatch(kQuotaLine.template_text)->similarity, 1.0 - 1.0 / 8, 1e-12);
  EXPECT_FALSE(assistant.Suggest({"E9", "Receiving block <*> src: <*>", "Receiving block blk_1"}));
}

TEST(LabelingAssistantTest, FuzzyThresholdIsInclusive) {
  LabelingAssistant assistant(SshRules(), LabelingOptions{.fuzzy_threshold = 0.8});
  ASSERT_TRUE(assistant.AddAnomalousTemplate("K", "a b c d e f g h i j", "t").ok());
  // 2 substitutions in 10 tokens -> exactly 0.8 -> transferred; 3 -> 0.7 -> not.
  EXPECT_TRUE(assistant.BestFuzzyMatch("a b c d e f g h X Y").has_value());
  EXPECT_FALSE(assistant.BestFuzzyMatch("a b c d e f g X Y Z").has_value());
}

TEST(LabelingAssistantTest, OperatorFeedbackOverridesRules) {
  LabelingAssistant assistant(SshRules());
  ASSERT_TRUE(assistant.RecordFeedback(kSshLine, Feedback::kFalsePositive).ok());
  std::optional<Label> label = assistant.Suggest(kSshLine);
  ASSERT_TRUE(label.has_value());
  EXPECT_FALSE(label->anomalous);
  EXPECT_EQ(label->provenance.ToString(), "operator");
  // Another template still gets the rule.
  LogRecord other = kSshLine;
  other.template_id = "E2";
  EXPECT_EQ(assistant.Suggest(other)->provenance.ToString(), "rule:ssh_failed_login");
  // A later confirmation replaces the false positive and takes the rule's type.
  ASSERT_TRUE(assistant.RecordFeedback(kSshLine, Feedback::kConfirm).ok());
  EXPECT_EQ(*assistant.Suggest(kSshLine),
            (Label{true, "security_anomaly", Provenance{LabelOrigin::kOperator, ""}}));
}

TEST(LabelingAssistantTest, ConfirmationsTransferAndFalsePositivesStopTransfer) {
  LabelingAssistant assistant(SshRules());
  const LogRecord unknown{"E3", "Out of <*> disk quota on <*>", "Out of user disk quota on /home"};
  EXPECT_EQ(assistant.RecordFeedback(unknown, Feedback::kConfirm).code(),
            absl::StatusCode::kInvalidArgument);  // no type given, none proposed
  ASSERT_TRUE(assistant.RecordFeedback(unknown, Feedback::kConfirm, "config_error").ok());
  EXPECT_EQ(assistant.Suggest(kQuotaLine)->provenance.ToString(), "fuzzy:E3");
  ASSERT_TRUE(assistant.RecordFeedback(unknown, Feedback::kFalsePositive).ok());
  EXPECT_FALSE(assistant.Suggest(kQuotaLine).has_value());
  EXPECT_FALSE(assistant.RecordFeedback({"", "t", "c"}, Feedback::kConfirm, "x").ok());
  EXPECT_FALSE(assistant.AddAnomalousTemplate("K", "", "t").ok());
}

TEST(ProvenanceTest, RoundTrips) {
  for (const char* s : {"ground_truth", "rule:oom", "fuzzy:E12", "operator"}) {
    auto p = Provenance::Parse(s);
    ASSERT_TRUE(p.ok()) << s;
    EXPECT_EQ(p->ToString(), s);
  }
  EXPECT_FALSE(Provenance::Parse("rule:").ok());
  EXPECT_FALSE(Provenance::Parse("guess").ok());
}

}  // namespace
}  // namespace fedlog::labels
