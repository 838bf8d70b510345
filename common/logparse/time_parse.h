// Timestamp normalisation: every log format's time text becomes UTC epoch milliseconds.
// Patterns are small and explicit (no strptime, no locale): letters name a field, any other character must
// match itself, and a space matches one or more spaces. Thread-safe: pure functions.
//
//   yyyy  year (1-4 digits)            yy    2-digit year (00-69 -> 20xx, 70-99 -> 19xx)
//   MM    month number (1-2 digits)    MMM   month name (Jan, January, case-insensitive)
//   dd    day of month (1-2 digits)    EEE   weekday name (skipped)
//   HH    hour   mm minute   ss second (1-2 digits each)
//   SSS   fraction of a second (1-9 digits, scaled to milliseconds)
//   epoch seconds since 1970 with an optional fraction (".123")    epochms  milliseconds since 1970
//
// A pattern without a year takes `default_year` (syslog-style logs carry none).
#ifndef FEDLOG_COMMON_LOGPARSE_TIME_PARSE_H_
#define FEDLOG_COMMON_LOGPARSE_TIME_PARSE_H_

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fedlog::logparse {

// The value of ParsedLine::time_ms when a line has no readable time.
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

// Days since 1970-01-01 of a proleptic Gregorian date (any year, month 1-12, day 1-31).
int64_t DaysFromCivil(int64_t year, int month, int day);

// The current UTC year, for logs without one.
int CurrentUtcYear();

// A compiled time pattern. Cheap to copy; Parse is const and allocation-free.
class TimePattern {
 public:
  // InvalidArgument for an empty pattern or an unknown letter run.
  static absl::StatusOr<TimePattern> Compile(std::string_view pattern);

  // Epoch milliseconds of `text`, or kNoTime when it does not fit the pattern or names an impossible time.
  // Trailing text after the pattern is ignored (e.g. a time zone the pattern does not mention).
  int64_t Parse(std::string_view text, int default_year) const;

  bool has_year() const { return has_year_; }

 private:
  enum class Op : uint8_t {
    kYear4, kYear2, kMonthNum, kMonthName, kDay, kWeekday, kHour, kMinute, kSecond, kFraction,
    kEpochSeconds, kEpochMillis, kSpace, kLiteral
  };
  struct Step {
    Op op;
    char literal;
  };
  std::vector<Step> steps_;
  bool has_year_ = false;
};

// ISO 8601 / RFC 3339 ("2024-01-02T03:04:05.678Z", "+02:00" offsets, a space instead of 'T') to epoch ms,
// or kNoTime.
int64_t ParseIso8601(std::string_view text);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_TIME_PARSE_H_
