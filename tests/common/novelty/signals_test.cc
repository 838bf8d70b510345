// Each label-free signal on a small synthetic stream: the unusual event scores above the usual ones.
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "common/novelty/severity.h"
#include "common/novelty/signals.h"
#include "common/novelty/tail_histogram.h"
#include "gtest/gtest.h"

namespace fedlog::novelty {
namespace {

TEST(TailHistogramTest, TailIsShareOfEarlierValuesAtLeastAsHigh) {
  TailHistogram h;
  EXPECT_DOUBLE_EQ(h.Tail(5.0), 1.0);
  for (int i = 0; i < 99; ++i) h.Add(0.0);
  h.Add(10.0);
  EXPECT_NEAR(h.Tail(10.0), 2.0 / 101.0, 1e-12);
  EXPECT_NEAR(h.Tail(0.0), 1.0, 1e-12);
  EXPECT_NEAR(h.Tail(50.0), 1.0 / 101.0, 1e-12);  // higher than everything seen
}

TEST(TailHistogramTest, UpperQuantileKeepsTheBudget) {
  TailHistogram h;
  EXPECT_TRUE(std::isinf(h.UpperQuantile(0.01)));
  for (int i = 0; i < 1000; ++i) h.Add(static_cast<double>(i % 100) / 10.0);  // 0 .. 9.9
  const double q = h.UpperQuantile(0.05);
  ASSERT_FALSE(std::isinf(q));
  int above = 0;
  for (int i = 0; i < 100; ++i) above += static_cast<double>(i) / 10.0 >= q ? 1 : 0;
  EXPECT_LE(above, 5);
  EXPECT_GE(above, 3);  // the bins are fine enough not to waste most of the budget
  // Fewer values than 1 / tail: undefined.
  TailHistogram small;
  for (int i = 0; i < 10; ++i) small.Add(1.0);
  EXPECT_TRUE(std::isinf(small.UpperQuantile(0.01)));
}

TEST(SeverityTest, LevelsAndWords) {
  EXPECT_DOUBLE_EQ(LevelSeverity("fatal"), 1.0);
  EXPECT_DOUBLE_EQ(LevelSeverity("ERROR"), 0.75);
  EXPECT_DOUBLE_EQ(LevelSeverity("WARN"), 0.35);
  EXPECT_DOUBLE_EQ(LevelSeverity("INFO"), 0.0);
  EXPECT_DOUBLE_EQ(ContentSeverity("Connection refused by peer"), 0.6);
  EXPECT_DOUBLE_EQ(ContentSeverity("java.io.IOException: oops"), 0.0);  // not a whole word
  EXPECT_DOUBLE_EQ(ContentSeverity("Got exception while serving"), 0.6);
  EXPECT_DOUBLE_EQ(ContentSeverity("file not found"), 0.3);
  EXPECT_DOUBLE_EQ(ContentSeverity("errorless terror"), 0.0);
  EXPECT_DOUBLE_EQ(LineSeverity("INFO", "mount failed"), 0.6);
  EXPECT_TRUE(HasSeverityWord("RAS KERNEL FATAL data TLB error interrupt"));
  EXPECT_TRUE(HasSeverityWord("x [ERROR] y"));
  EXPECT_FALSE(HasSeverityWord("RAS KERNEL INFO generating core.123"));
  EXPECT_FALSE(HasSeverityWord("errors happened"));
}

TEST(SeverityTest, WithinTheLevelWordsStillCount) {
  // Across levels only (within = 0) a FATAL line with and without failure words tie.
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("FATAL", "data TLB error interrupt", 0), 1.0);
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("FATAL", "instruction address: 0x00004ed8", 0), 1.0);
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("FATAL", "data TLB error interrupt", 0.25), 1.15);
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("FATAL", "instruction address: 0x00004ed8", 0.25), 1.0);
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("ERROR", "mount failed", 0.25), 0.75 + 0.25 * 0.6);
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("INFO", "mount failed", 0.25), 0.6);
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("WARN", "mount failed", 0.25), 0.6);  // not a severe level
  EXPECT_DOUBLE_EQ(WithinLevelSeverity("", "", 0.25), 0.0);
}

TEST(SeverityTest, ValueReportsEndInABareNumber) {
  EXPECT_TRUE(EndsInBareValue("machine state register: 0x00002000"));
  EXPECT_TRUE(EndsInBareValue("store operation.............................1"));
  EXPECT_TRUE(EndsInBareValue("r24=0x00000000 r25=0x1eb3c0"));
  EXPECT_TRUE(EndsInBareValue("data address: 0x00000002 "));
  EXPECT_FALSE(EndsInBareValue("data TLB error interrupt"));
  EXPECT_FALSE(EndsInBareValue("Lustre mount FAILED : bglio11 : point /p/gb1"));
  EXPECT_FALSE(EndsInBareValue("rts: kernel terminated for reason 1004rts"));
  EXPECT_FALSE(EndsInBareValue("cache line dead"));  // hex letters, but no digit: a word
  EXPECT_FALSE(EndsInBareValue("pointer 0x"));
  EXPECT_FALSE(EndsInBareValue(""));
  EXPECT_FALSE(EndsInBareValue("..."));
}

TEST(AlarmRecurrenceTest, CountsOnlyAlarmLinesOfTheTemplate) {
  AlarmRecurrence r;
  EXPECT_DOUBLE_EQ(r.Score(7), 0.0);
  for (int i = 0; i < 50; ++i) r.Observe(7, /*alarm=*/false);
  EXPECT_DOUBLE_EQ(r.Score(7), 0.0);  // routine lines of the template do not count
  r.Observe(7, true);
  r.Observe(7, true);
  r.Observe(8, true);
  EXPECT_DOUBLE_EQ(r.Score(7), std::log1p(2.0));
  EXPECT_DOUBLE_EQ(r.Score(8), std::log1p(1.0));
  AlarmRecurrence capped(1);
  capped.Observe(1, true);
  capped.Observe(2, true);  // beyond the cap: not remembered
  EXPECT_GT(capped.Score(1), 0.0);
  EXPECT_DOUBLE_EQ(capped.Score(2), 0.0);
}

TEST(TemplateCountsTest, NewAndRareTemplatesSurprise) {
  TemplateCounts t;
  EXPECT_DOUBLE_EQ(t.Score(1), 0.0);
  for (int i = 0; i < 99; ++i) t.Observe(1);
  t.Observe(2);
  EXPECT_LT(t.Score(1), 0.05);
  EXPECT_GT(t.Score(2), t.Score(1));
  EXPECT_GT(t.Score(3), t.Score(2));  // never seen
  EXPECT_EQ(t.Count(3), 0);
}

TEST(RateTrackerTest, BurstAboveTheUsualRateScores) {
  RateOptions o;
  o.bucket_width = 10;
  RateTracker r(o);
  // One occurrence per bucket for 100 buckets: the usual rate is 1.
  for (int64_t b = 0; b < 100; ++b) {
    r.Observe(7, b * 10);
    r.Observe(8, b * 10 + 5);
  }
  EXPECT_LT(r.Score(7, 1000), 0.01);  // the first one in a new bucket is expected
  double last = 0;
  for (int i = 0; i < 20; ++i) {  // a burst in bucket 100
    r.Observe(7, 1000 + (i % 10));
    const double s = r.Score(7, 1000);
    EXPECT_GE(s, last);
    last = s;
  }
  EXPECT_GT(last, 20.0);
  // Another key at its usual rate is not affected; a key never seen is a small surprise.
  EXPECT_LT(r.Score(8, 1000), 0.01);
  EXPECT_GT(r.Score(9, 1000), 1.0);
  EXPECT_LT(r.Score(9, 1000), last);
}

TEST(RateTrackerTest, RateDecaysOverEmptyBuckets) {
  RateOptions o;
  o.bucket_width = 1;
  o.decay = 0.2;
  RateTracker r(o);
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 5; ++j) r.Observe(1, i);
  }
  const double busy = r.Score(1, 50);
  // After a long quiet time 5 per bucket is a burst again.
  for (int j = 0; j < 4; ++j) r.Observe(1, 500);
  EXPECT_GT(r.Score(1, 500), busy + 1.0);
}

TEST(ParamValuesTest, UnseenValueOfAFixedFieldSurprisesAFreeFieldDoesNot) {
  ParamValues p;
  for (int i = 0; i < 200; ++i) {
    const std::string user = i % 2 ? "root" : "admin";
    const std::string port = std::to_string(1000 + i);  // always new
    p.Observe(5, {user, port});
  }
  int which = -2;
  const double odd_user = p.Score(5, {"mallory", "5000"}, &which);
  EXPECT_EQ(which, 0);
  EXPECT_GT(odd_user, 4.0);
  const double new_port = p.Score(5, {"root", "7777"});
  EXPECT_LT(new_port, 0.8);  // new ports are the norm for that field
  // Another template's positions are separate; below min_count nothing scores.
  EXPECT_DOUBLE_EQ(p.Score(6, {"mallory"}), 0.0);
}

TEST(SequenceModelTest, UnlikelyNextEventScoresPerSession) {
  SequenceOptions o;
  o.top_g = 1;
  SequenceModel m(o);
  // 50 sessions of 1 -> 2 -> 3.
  for (uint64_t s = 0; s < 50; ++s) {
    for (int32_t t : {1, 2, 3}) m.Observe(s, t);
  }
  bool miss = false;
  EXPECT_DOUBLE_EQ(m.Score(100, 1, &miss), 0.0);  // a session starts with 1
  EXPECT_FALSE(miss);
  EXPECT_GT(m.Score(100, 3, &miss), 3.0);  // starts with 3
  EXPECT_TRUE(miss);
  m.Observe(100, 1);
  EXPECT_DOUBLE_EQ(m.Score(100, 2), 0.0);
  EXPECT_GT(m.Score(100, 9), 3.0);  // 9 never followed 1
  // Sessions are separate: session 7 ended on 3, and nothing ever followed 3 (no support yet).
  EXPECT_DOUBLE_EQ(m.Score(7, 2), 0.0);
}

}  // namespace
}  // namespace fedlog::novelty
