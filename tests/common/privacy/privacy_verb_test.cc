// `fedlog privacy epsilon` (tools/offline/privacy_verb.cc), run through its verb table entry.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {
void AddPrivacyVerbs(std::vector<Verb>* verbs);  // tools/offline/privacy_verb.cc

namespace {

int RunVerb(const std::vector<std::string>& args, std::string* out) {
  std::vector<Verb> verbs;
  AddPrivacyVerbs(&verbs);
  EXPECT_EQ(verbs.size(), 1u);
  EXPECT_EQ(verbs[0].name, "privacy epsilon");
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int rc = verbs[0].run(args);
  *out = testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  return rc;
}

TEST(PrivacyVerbTest, PrintsEpsilonAndOrderAsJsonWithDefaultOrders) {
  std::string out;
  ASSERT_EQ(RunVerb({"--sampling-rate", "0.0025", "--noise-multiplier", "1.3", "--steps", "6000", "--delta", "1e-5"},
                    &out),
            0);
  EXPECT_NE(out.find("\"epsilon\": 0.72422340"), std::string::npos) << out;
  EXPECT_NE(out.find("\"order\": 19,"), std::string::npos) << out;
  EXPECT_EQ(out.front(), '{');
  EXPECT_EQ(out.back(), '\n');
}

TEST(PrivacyVerbTest, OrdersListIsUsed) {
  std::string out;
  ASSERT_EQ(RunVerb({"--sampling-rate", "0.04", "--noise-multiplier", "1.5", "--steps", "2250", "--delta", "1e-5",
                     "--orders", "3.9,20"},
                    &out),
            0);
  EXPECT_NE(out.find("\"epsilon\": 7.32911117"), std::string::npos) << out;
  EXPECT_NE(out.find("\"order\": 3.9,"), std::string::npos) << out;
}

TEST(PrivacyVerbTest, UsageErrors) {
  std::string out;
  EXPECT_EQ(RunVerb({"--sampling-rate", "0.1"}, &out), 2);
  EXPECT_EQ(RunVerb({"--sampling-rate", "2", "--noise-multiplier", "1", "--steps", "1", "--delta", "1e-5"}, &out), 2);
  EXPECT_EQ(RunVerb({"--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "1", "--delta", "1e-5",
                     "--orders", "2,x"},
                    &out),
            2);
  EXPECT_EQ(RunVerb({"--bogus", "1"}, &out), 2);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace fedlog::cli
