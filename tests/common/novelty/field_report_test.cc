// Session 14's terms of the label-free score. Field reports (NoveltyOptions::field_report_weight): a
// severe line that gives a named field's value, or heads a list of them, keeps only (1 - weight) of
// the recurrence and fixed-message terms, since a dump prints such lines whenever it is printed.
// Repeated paths (NoveltyOptions::path_repeat_weight, off): the path term shrinks by the path value's
// share of its template position's earlier values.
#include <cmath>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "common/novelty/severity.h"
#include "common/novelty/signals.h"
#include "gtest/gtest.h"
#include "tests/common/novelty/routine_event.h"

namespace fedlog::novelty {
namespace {

using testing::Routine;

TEST(FieldReportTest, NamedValuesAndHeadersAreFieldReports) {
  struct Case {
    std::string_view content;
    bool field;
  };
  const std::vector<Case> cases = {
      {"machine state register: 0x00003000", true},
      {"store operation.............................1", true},
      {"0:000008ce 1:00086000 2:1eeeeeee 3:1feaa770", true},
      {"r24=0x00000000 r25=0x1eb3c0", true},
      {"general purpose registers:", true},
      {"special purpose registers:  ", true},
      {"exception syndrome register: 0x00800000", true},  // a failure word in a field's name
      {"critical input interrupt enable...0", true},
      {"rts: kernel terminated for reason 1004", false},  // a value bound by a space: a code
      {"rts: kernel terminated for reason 1004rts: bad message header: expecting type 1, type=3, "
       "cpu=0, index=0, total=1", false},  // a sentence (more than 8 words)
      {"Error receiving packet on tree network, expecting type 57 instead of type 3 (softheader="
       "0064588e 8aff0003 00000002 00000000) PSR0=00001f01 PSR1=00000000 PRXF=00000002 PIXF=00000007", false},
      {"data TLB error interrupt", false},
      {"Lustre mount FAILED : bglio11 : point /p/gb1", false},
      {"cache line dead", false},
      {"12:", false},  // a header needs a name
      {"1234", false},  // a value with no name
      {"", false},
      {"...", false},
  };
  for (const Case& c : cases) EXPECT_EQ(IsFieldReport(c.content), c.field) << c.content;
}

LineEvent Fatal(int32_t tpl, std::string_view content) {
  LineEvent e;
  e.template_id = tpl;
  e.level = "FATAL";
  e.component = "kernel";
  e.content = content;
  return e;  // no parameters: a fixed message to Drain
}

// The same recurring fixed FATAL line scores lower by exactly weight * (recurrence + fixed terms)
// when it is a field report; a FATAL event line is not touched.
TEST(FieldReportTest, AFieldReportLosesItsRecurrenceAndFixedTerms) {
  for (double w : {0.0, 0.5, 1.0}) {
    NoveltyOptions o;
    o.hold_lines = 0;
    o.recurrence_age_lines = 0;  // the count, computed below (recurrence_rate_test.cc checks the rate)
    o.field_report_weight = w;
    NoveltyScorer scorer(o);
    NoveltyOptions off_options = o;
    off_options.field_report_weight = 0;
    NoveltyScorer off(off_options);
    int64_t i = 0;
    for (; i < 300; ++i) {
      for (NoveltyScorer* s : {&scorer, &off}) {
        if (i % 10 == 0) {
          s->ScoreAndLearn(Fatal(7, "machine state register: 0x00003000"), i);
          s->ScoreAndLearn(Fatal(8, "data TLB error interrupt"), i);
        } else {
          s->ScoreAndLearn(Routine(static_cast<int32_t>(i % 3)), i);
        }
      }
    }
    const LineScore field = scorer.ScoreAndLearn(Fatal(7, "machine state register: 0x00003000"), i);
    const LineScore field_off = off.ScoreAndLearn(Fatal(7, "machine state register: 0x00003000"), i);
    const LineScore event = scorer.ScoreAndLearn(Fatal(8, "data TLB error interrupt"), i + 1);
    const LineScore event_off = off.ScoreAndLearn(Fatal(8, "data TLB error interrupt"), i + 1);
    const double recurrence = o.recurrence_weight * std::log(1.0 + 30.0);  // 30 earlier FATAL lines
    EXPECT_NEAR(field_off.severity_term - field.severity_term, w * (recurrence + o.fixed_weight), 1e-9) << w;
    EXPECT_NEAR(field_off.score - field.score, w * (recurrence + o.fixed_weight), 1e-9) << w;
    EXPECT_DOUBLE_EQ(event.severity_term, event_off.severity_term) << w;
  }
}

// A held field report gets the rule at release too (the hold keeps its message).
TEST(FieldReportTest, HeldFieldReportsGetTheRuleAtRelease) {
  std::vector<HeldVerdict> released[2];
  for (int k = 0; k < 2; ++k) {
    NoveltyOptions o;
    o.hold_lines = 64;
    o.recurrence_age_lines = 0;  // the count, computed below
    o.field_report_weight = k == 0 ? 0.0 : 1.0;
    NoveltyScorer scorer(o);
    for (int64_t i = 0; i < 64; ++i) {
      if (i % 8 == 0) {
        scorer.ScoreAndLearn(Fatal(7, "general purpose registers:"), i);
      } else {
        scorer.ScoreAndLearn(Routine(static_cast<int32_t>(i % 3)), i);
      }
    }
    scorer.TakeReleased(&released[k]);
    ASSERT_EQ(released[k].size(), 64u);
  }
  // At release all 8 headers (lines 0, 8, ..., 56) are in the template's recurrence.
  const double recurrence = NoveltyOptions().recurrence_weight * std::log(1.0 + 8.0);
  EXPECT_NEAR(released[0][56].score - released[1][56].score,
              recurrence + NoveltyOptions().fixed_weight, 1e-9);
  EXPECT_DOUBLE_EQ(released[0][57].score, released[1][57].score);  // a routine line: no change
}

TEST(FieldReportTest, ValidateKeepsTheWeightWithinZeroAndOne) {
  NoveltyOptions o;
  EXPECT_DOUBLE_EQ(o.field_report_weight, 0.25);  // chosen on the tuning parts (docs/EVALUATION.md)
  o.field_report_weight = 1;
  EXPECT_TRUE(o.Validate().ok());
  o.field_report_weight = 1.5;
  EXPECT_NE(o.Validate().message().find("field_report_weight"), std::string_view::npos);
  o.field_report_weight = -0.1;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(PathRepeatTest, ShareIsTheValuesPartOfThePosition) {
  ParamValues values;
  EXPECT_DOUBLE_EQ(values.Share(3, 0, "/p/gb1"), 0.0);  // an untracked position
  for (int i = 0; i < 3; ++i) values.Observe(3, {"bglio1", "/p/gb1"});
  values.Observe(3, {"bglio2", "/p/gb2"});
  EXPECT_DOUBLE_EQ(values.Share(3, 1, "/p/gb1"), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(values.Share(3, 1, "/p/gb2"), 1.0 / 5.0);
  EXPECT_DOUBLE_EQ(values.Share(3, 1, "/home/u/app"), 0.0);  // unseen
  EXPECT_DOUBLE_EQ(values.Share(3, 0, "/p/gb1"), 0.0);       // another position
}

LineEvent WithPath(int32_t tpl, std::string_view path) {
  LineEvent e = Fatal(tpl, "mount FAILED");
  e.params = {path};
  return e;
}

// A path named on every earlier line of its template loses the path term by its share; a new path
// keeps all of it; with the weight at 0 (the default) both keep all of it.
TEST(PathRepeatTest, ARepeatedPathLosesThePathTermByItsShare) {
  for (double r : {0.0, 1.0}) {
    NoveltyOptions o;
    o.hold_lines = 0;
    o.path_repeat_weight = r;
    NoveltyScorer scorer(o);
    NoveltyOptions plain_options = o;
    plain_options.path_weight = 0;  // the same score without any path term
    NoveltyScorer plain(plain_options);
    int64_t i = 0;
    for (; i < 200; ++i) {
      for (NoveltyScorer* s : {&scorer, &plain}) {
        if (i % 10 == 0) {
          s->ScoreAndLearn(WithPath(5, "/p/gb1"), i);
        } else {
          s->ScoreAndLearn(Routine(static_cast<int32_t>(i % 3)), i);
        }
      }
    }
    const double mount = plain.Peek(WithPath(5, "/p/gb1"), i) - scorer.Peek(WithPath(5, "/p/gb1"), i);
    const double fresh =
        plain.Peek(WithPath(5, "/home/u/app"), i) - scorer.Peek(WithPath(5, "/home/u/app"), i);
    EXPECT_NEAR(fresh, o.path_weight, 1e-9) << r;
    EXPECT_NEAR(mount, o.path_weight * (1.0 - r * 20.0 / 21.0), 1e-9) << r;  // 20 of 20 earlier values
  }
  NoveltyOptions bad;
  bad.path_repeat_weight = 1.5;
  EXPECT_NE(bad.Validate().message().find("path_repeat_weight"), std::string_view::npos);
  EXPECT_DOUBLE_EQ(NoveltyOptions().path_repeat_weight, 0.0);  // off: it lost on the tuning system
}

}  // namespace
}  // namespace fedlog::novelty
