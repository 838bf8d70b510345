// Field reports in the label-free score (session 14, NoveltyOptions::field_report_weight): a severe
// line that gives a named field's value, or heads a list of them, keeps only (1 - weight) of the
// recurrence and fixed-message terms, since a dump prints such lines whenever it is printed.
#include <cmath>
#include <string_view>
#include <vector>

#include "common/novelty/scorer.h"
#include "common/novelty/severity.h"
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
      {"rts: kernel terminated for reason 1004", false},    // a sentence ending in a code
      {"exception syndrome register: 0x00800000", false},  // names a failure word
      {"Error receiving packet on tree network, type=57", false},
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
  EXPECT_NEAR(released[0][56].score - released[1][56].score, recurrence + NoveltyOptions().fixed_weight, 1e-9);
  EXPECT_DOUBLE_EQ(released[0][57].score, released[1][57].score);  // a routine line: no change
}

TEST(FieldReportTest, ValidateKeepsTheWeightWithinZeroAndOne) {
  NoveltyOptions o;
  EXPECT_DOUBLE_EQ(o.field_report_weight, 0.0);  // off by default
  o.field_report_weight = 1;
  EXPECT_TRUE(o.Validate().ok());
  o.field_report_weight = 1.5;
  EXPECT_NE(o.Validate().message().find("field_report_weight"), std::string_view::npos);
  o.field_report_weight = -0.1;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace fedlog::novelty
