#include "common/logparse/time_parse.h"

#include "gtest/gtest.h"

namespace fedlog::logparse {
namespace {

int64_t Parse(const char* pattern, const char* text, int year = 2024) {
  absl::StatusOr<TimePattern> p = TimePattern::Compile(pattern);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? p->Parse(text, year) : kNoTime;
}

TEST(TimeParseTest, DaysFromCivilKnownDates) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 2, 29) * 86400000LL, 951782400000LL);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
}

TEST(TimeParseTest, PatternsOfTheLoghubSources) {
  EXPECT_EQ(Parse("yyMMdd HHmmss", "081109 203615"), 1226262975000);
  EXPECT_EQ(Parse("yy/MM/dd HH:mm:ss", "17/06/09 20:10:40"), 1497039040000);
  EXPECT_EQ(Parse("yyyy-MM-dd-HH.mm.ss.SSS", "2005-06-03-15.42.50.675872"), 1117813370675);
  EXPECT_EQ(Parse("yyyyMMdd-HH:mm:ss:SSS", "20171223-22:15:29:606"), 1514067329606);
  EXPECT_EQ(Parse("EEE MMM dd HH:mm:ss yyyy", "Sun Dec 04 04:47:44 2005"), 1133671664000);
  EXPECT_EQ(Parse("epoch", "1077804742"), 1077804742000);
  EXPECT_EQ(Parse("epoch", "1077804742.5"), 1077804742500);
  EXPECT_EQ(Parse("epochms", "1077804742123"), 1077804742123);
}

TEST(TimeParseTest, MissingYearUsesDefaultAndSingleDigitDays) {
  EXPECT_EQ(Parse("MMM d HH:mm:ss", "Jun 14 15:16:01", 2024), 1718378161000);
  EXPECT_EQ(Parse("MMM d HH:mm:ss", "Jul  1 09:00:55", 2024), 1719824455000);
  EXPECT_EQ(Parse("MMM d HH:mm:ss", "July 1 09:00:55", 2024), 1719824455000);  // full month name
}

TEST(TimeParseTest, TwoDigitYearsPivotAt70) {
  EXPECT_EQ(Parse("yy-MM-dd", "69-12-31"), DaysFromCivil(2069, 12, 31) * 86400000LL);
  EXPECT_EQ(Parse("yy-MM-dd", "70-01-01"), 0);
}

TEST(TimeParseTest, FractionsScaleToMilliseconds) {
  EXPECT_EQ(Parse("HH:mm:ss.SSS", "00:00:01.5", 1970), 1500);
  EXPECT_EQ(Parse("HH:mm:ss.SSS", "00:00:01.05", 1970), 1050);
  EXPECT_EQ(Parse("HH:mm:ss.SSS", "00:00:01.123456789", 1970), 1123);
}

TEST(TimeParseTest, RejectsMismatchesAndImpossibleValues) {
  EXPECT_EQ(Parse("yyyy-MM-dd", "2024/01/01"), kNoTime);
  EXPECT_EQ(Parse("yyyy-MM-dd", "2024-13-01"), kNoTime);
  EXPECT_EQ(Parse("MMM d", "Foo 1"), kNoTime);
  EXPECT_EQ(Parse("yyyy-MM-dd", ""), kNoTime);
  EXPECT_FALSE(TimePattern::Compile("").ok());
  EXPECT_FALSE(TimePattern::Compile("yyyy-QQ").ok());
}

TEST(TimeParseTest, Iso8601WithOffsets) {
  EXPECT_EQ(ParseIso8601("2024-01-02T03:04:05.678Z"), 1704164645678);
  EXPECT_EQ(ParseIso8601("2024-01-02 03:04:05.678"), 1704164645678);
  EXPECT_EQ(ParseIso8601("2024-01-02T03:04:05.678+02:00"), 1704157445678);
  EXPECT_EQ(ParseIso8601("2024-01-02T01:04:05.678-00:00"), 1704157445678);
  EXPECT_EQ(ParseIso8601("2024-01-02"), DaysFromCivil(2024, 1, 2) * 86400000LL);
  EXPECT_EQ(ParseIso8601("yesterday"), kNoTime);
}

}  // namespace
}  // namespace fedlog::logparse
