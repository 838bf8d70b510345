#include "common/logparse/synth/synth_util.h"

#include <cstdarg>
#include <algorithm>
#include <cstdio>

namespace fedlog::logparse::synth {

const char* const kMonthNames[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* const kWeekdayNames[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

Civil ToCivil(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  const int64_t in_day = ms - days * 86400000;
  Civil c{};
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  // Inverse of DaysFromCivil: shift to eras of 400 years starting on 0000-03-01.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = static_cast<int>(yoe + era * 400 + (c.month <= 2 ? 1 : 0));
  c.hour = static_cast<int>(in_day / 3600000);
  c.minute = static_cast<int>(in_day / 60000 % 60);
  c.second = static_cast<int>(in_day / 1000 % 60);
  c.millis = static_cast<int>(in_day % 1000);
  return c;
}

std::string Fmt(const char* format, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, format);
  const int n = std::vsnprintf(buf, sizeof(buf), format, ap);
  va_end(ap);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
}

std::string RandomIp(Rng* rng) {
  return Fmt("10.%d.%d.%d", static_cast<int>(rng->Uniform(256)), static_cast<int>(rng->Uniform(256)),
             static_cast<int>(1 + rng->Uniform(254)));
}

}  // namespace fedlog::logparse::synth
