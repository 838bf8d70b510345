// The fused label-free scorer: which signals fire, the alert budget, and the event builder.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/novelty/event_builder.h"
#include "common/novelty/scorer.h"
#include "gtest/gtest.h"
#include "tests/common/novelty/routine_event.h"

namespace fedlog::novelty {
namespace {

using testing::Routine;

TEST(NoveltyScorerTest, NewErrorTemplateAlertsAndSaysWhy) {
  NoveltyScorer scorer({});
  std::mt19937 rng(3);  // test data only
  int64_t t = 0;
  for (int i = 0; i < 3000; ++i) {
    t += 1000;
    const LineScore s = scorer.ScoreAndLearn(Routine(static_cast<int32_t>(rng() % 5), t), i);
    EXPECT_FALSE(s.new_template && i > 100);
  }
  LineEvent bad = Routine(42, t + 1000);
  bad.level = "ERROR";
  bad.content = "disk failed";
  const LineScore s = scorer.ScoreAndLearn(bad, 3000);
  EXPECT_TRUE(s.alert);
  EXPECT_TRUE(s.new_template);
  EXPECT_NE(s.fired & (1u << kTemplate), 0u);
  EXPECT_NE(s.fired & (1u << kSeverity), 0u);
  EXPECT_EQ(s.fired & (1u << kSequence), 0u);  // no session on these lines
  EXPECT_EQ(FiredNames(s.fired & ((1u << kTemplate) | (1u << kSeverity))), "template+severity");
  EXPECT_LT(s.p_value, 0.01);
  // A routine line right after it does not alert.
  EXPECT_FALSE(scorer.ScoreAndLearn(Routine(1, t + 2000), 3001).alert);
}

TEST(NoveltyScorerTest, AlertRateFollowsTheBudget) {
  for (double budget : {0.002, 0.01, 0.05}) {
    NoveltyOptions o;
    o.expected_alert_rate = budget;
    NoveltyScorer scorer(o);
    std::mt19937 rng(11);  // test data only
    std::geometric_distribution<int> tpl(0.3);
    std::exponential_distribution<double> gap(1.0 / 500);
    const std::vector<std::string> users = {"a", "b", "c", "d", "e", "f", "g", "h"};
    double t = 0;
    int alerts = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      t += gap(rng);
      LineEvent e = Routine(tpl(rng), static_cast<int64_t>(t));
      e.params = {users[rng() % users.size()]};
      e.level = rng() % 20 == 0 ? "WARN" : "INFO";
      alerts += scorer.ScoreAndLearn(e, i).alert ? 1 : 0;
    }
    const double rate = static_cast<double>(alerts) / n;
    EXPECT_LE(rate, budget * 1.5) << budget;
    EXPECT_GE(rate, budget * 0.2) << budget;
  }
}

TEST(NoveltyScorerTest, NothingAlertsDuringWarmup) {
  NoveltyOptions o;
  o.warmup_lines = 500;
  NoveltyScorer scorer(o);
  for (int i = 0; i < 500; ++i) {
    LineEvent e = Routine(i % 50 == 0 ? 1000 + i : 1, i * 10);  // new templates now and then
    EXPECT_FALSE(scorer.ScoreAndLearn(e, i).alert) << i;
  }
}

TEST(NoveltyScorerTest, SequenceFiresOnlyForSessions) {
  NoveltyScorer scorer({});
  int64_t i = 0;
  for (uint64_t s = 0; s < 300; ++s) {
    for (int32_t tpl : {1, 2, 3}) {
      LineEvent e = Routine(tpl, i * 100);
      e.has_session = true;
      e.session = s;
      scorer.ScoreAndLearn(e, i++);
    }
  }
  LineEvent odd = Routine(3, i * 100);  // a session that starts with its last event
  odd.has_session = true;
  odd.session = 9999;
  const LineScore s = scorer.ScoreAndLearn(odd, i);
  EXPECT_GT(s.raw[kSequence], 3.0);
  EXPECT_NE(s.fired & (1u << kSequence), 0u);
  EXPECT_EQ(s.fired & (1u << kTemplate), 0u);
}

// Within the FATAL level: a repeated severe event outranks a one-off register dump line, which the
// severity term across levels alone cannot tell apart.
TEST(NoveltyScorerTest, RepeatedSevereEventOutranksSevereValueReport) {
  auto fatal = [](int32_t tpl, std::string_view content) {
    LineEvent e = Routine(tpl, -1);
    e.level = "FATAL";
    e.content = content;
    return e;
  };
  for (bool within : {false, true}) {
    NoveltyOptions o;
    o.quiet_weight = 0;  // all lines share one component here; the term has its own test (quiet_test.cc)
    o.recurrence_age_lines = 0;  // the count; recurrence_rate_test.cc checks the rate
    if (!within) o.within_level = o.recurrence_weight = o.report_weight = o.fixed_weight = 0;
    NoveltyScorer scorer(o);
    int64_t i = 0;
    for (; i < 400; ++i) scorer.ScoreAndLearn(Routine(static_cast<int32_t>(i % 4), -1), i);
    for (int k = 0; k < 20; ++k) {  // the incident recurs among routine lines
      for (int r = 0; r < 19; ++r, ++i) scorer.ScoreAndLearn(Routine(static_cast<int32_t>(i % 4), -1), i);
      scorer.ScoreAndLearn(fatal(50, "data storage interrupt"), i++);
    }
    const LineScore incident = scorer.ScoreAndLearn(fatal(50, "data storage interrupt"), i++);
    LineEvent dump_line = fatal(60, "machine state register: 0x00002000");
    dump_line.params = {"0x00002000"};  // Drain's parameter: the fixed-message term does not apply
    const LineScore dump = scorer.ScoreAndLearn(dump_line, i++);
    if (within) {
      EXPECT_GT(incident.score, dump.score);
      EXPECT_GT(incident.severity_term, dump.severity_term);
      EXPECT_NEAR(incident.severity_term, 4.0 + 0.4 * std::log1p(20.0) + o.fixed_weight, 1e-9);
      EXPECT_NEAR(dump.severity_term, 4.0 - 0.3, 1e-9);
    } else {
      // Across levels only, the dump's rarity wins: the inversion the within-level terms fix.
      EXPECT_LT(incident.score, dump.score);
      EXPECT_DOUBLE_EQ(incident.severity_term, dump.severity_term);
    }
    // Routine lines are untouched by the within-level terms.
    EXPECT_DOUBLE_EQ(scorer.ScoreAndLearn(Routine(1, -1), i++).severity_term, 0.0);
  }
}

TEST(NoveltyOptionsTest, Validate) {
  EXPECT_TRUE(NoveltyOptions{}.Validate().ok());
  NoveltyOptions o;
  o.expected_alert_rate = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.expected_alert_rate = 0.9;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.weights[kParam] = -1;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.sequence.top_g = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.within_level = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.report_weight = -1;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(EventBuilderTest, HdfsBlockSessionsAndParameters) {
  auto parser = logparse::CreateLineParser("HDFS");
  ASSERT_TRUE(parser.ok());
  auto drain = logparse::Drain::Create({});
  ASSERT_TRUE(drain.ok());
  EventOptions eo;
  eo.session_pattern = "(blk_-?[0-9]+)";
  auto builder = EventBuilder::Create(eo, (*parser)->field_names());
  ASSERT_TRUE(builder.ok()) << builder.status();
  logparse::ParsedLine parsed;
  (*parser)->Parse(
      "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
      "blk_38865049064139660 terminating",
      &parsed);
  const logparse::DrainResult r = (*drain)->Add(parsed.content);
  LineEvent e;
  (*builder)->Build(parsed, **drain, r.template_id, &e);
  EXPECT_EQ(e.level, "INFO");
  EXPECT_EQ(e.component, "dfs.DataNode$PacketResponder");
  EXPECT_TRUE(e.has_session);
  uint64_t same = 0;
  ASSERT_TRUE((*builder)->SessionOf("x blk_38865049064139660 y", &same));
  EXPECT_EQ(e.session, same);
  EXPECT_GE(e.time_ms, 0);
  EXPECT_FALSE(e.params.empty());
  EXPECT_FALSE(EventBuilder::Create({{}, "(a)(b)"}, {}).ok());
}

TEST(EventBuilderTest, HostIsTheSessionWithoutAPattern) {
  auto parser = logparse::CreateLineParser("BGL");
  ASSERT_TRUE(parser.ok());
  auto drain = logparse::Drain::Create({});
  ASSERT_TRUE(drain.ok());
  auto builder = EventBuilder::Create({}, (*parser)->field_names());
  ASSERT_TRUE(builder.ok());
  logparse::ParsedLine parsed;
  (*parser)->Parse(
      "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 "
      "RAS KERNEL INFO instruction cache parity error corrected",
      &parsed);
  LineEvent e;
  (*builder)->Build(parsed, **drain, (*drain)->Add(parsed.content).template_id, &e);
  EXPECT_EQ(e.host, "R02-M1-N0-C:J12-U11");
  EXPECT_TRUE(e.has_session);
  EXPECT_EQ(e.level, "INFO");
}

}  // namespace
}  // namespace fedlog::novelty
