#include "common/logparse/time_parse.h"

#include <ctime>
#include <string>

namespace fedlog::logparse {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads 1..max_digits digits at text[*pos]; false when there is none.
bool ReadNumber(std::string_view text, size_t* pos, int max_digits, int64_t* value) {
  int64_t v = 0;
  int n = 0;
  while (*pos < text.size() && n < max_digits && IsDigit(text[*pos])) {
    v = v * 10 + (text[*pos] - '0');
    ++*pos;
    ++n;
  }
  *value = v;
  return n > 0;
}

// Month 1-12 from a name's first three letters, 0 when unknown. Skips the rest of the word.
int ReadMonthName(std::string_view text, size_t* pos) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (*pos + 3 > text.size()) return 0;
  char a = Lower(text[*pos]), b = Lower(text[*pos + 1]), c = Lower(text[*pos + 2]);
  for (int m = 0; m < 12; ++m) {
    if (kMonths[m][0] == a && kMonths[m][1] == b && kMonths[m][2] == c) {
      *pos += 3;
      while (*pos < text.size() && IsAlpha(text[*pos])) ++*pos;
      return m + 1;
    }
  }
  return 0;
}

// Fraction digits scaled to milliseconds ("5" -> 500, "675872" -> 675).
bool ReadFractionMs(std::string_view text, size_t* pos, int64_t* ms) {
  int n = 0;
  int64_t v = 0;
  while (*pos < text.size() && IsDigit(text[*pos])) {
    if (n < 3) v = v * 10 + (text[*pos] - '0');
    ++n;
    ++*pos;
  }
  if (n == 0) return false;
  for (int i = n; i < 3; ++i) v *= 10;
  *ms = v;
  return true;
}

struct Fields {
  int64_t year = -1, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
  int64_t epoch_ms = kNoTime;
};

int64_t FieldsToMs(const Fields& f) {
  if (f.epoch_ms != kNoTime) return f.epoch_ms;
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > 31 || f.hour > 24 || f.minute > 59 ||
      f.second > 61) {
    return kNoTime;
  }
  int64_t days = DaysFromCivil(f.year, static_cast<int>(f.month), static_cast<int>(f.day));
  return ((days * 24 + f.hour) * 60 + f.minute) * 60000 + f.second * 1000 + f.millis;
}

}  // namespace

int64_t DaysFromCivil(int64_t year, int month, int day) {
  // Counts from 0000-03-01 so that the leap day is the last day of a "year"; eras are 400-year cycles.
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t shifted_month = month > 2 ? month - 3 : month + 9;
  const int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

int CurrentUtcYear() {
  std::time_t now = std::time(nullptr);
  std::tm tm_utc{};
  gmtime_r(&now, &tm_utc);
  return tm_utc.tm_year + 1900;
}

absl::StatusOr<TimePattern> TimePattern::Compile(std::string_view pattern) {
  if (pattern.empty()) return absl::InvalidArgumentError("empty time pattern");
  TimePattern tp;
  size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    size_t run = 1;
    while (i + run < pattern.size() && pattern[i + run] == c) ++run;
    if (pattern.substr(i, 7) == "epochms") {
      tp.steps_.push_back({Op::kEpochMillis, 0});
      i += 7;
      continue;
    }
    if (pattern.substr(i, 5) == "epoch") {
      tp.steps_.push_back({Op::kEpochSeconds, 0});
      i += 5;
      continue;
    }
    Op op = Op::kLiteral;
    if (c == 'y' && run == 4) op = Op::kYear4;
    else if (c == 'y' && run == 2) op = Op::kYear2;
    else if (c == 'M' && run == 3) op = Op::kMonthName;
    else if (c == 'M' && run <= 2) op = Op::kMonthNum;
    else if (c == 'd' && run <= 2) op = Op::kDay;
    else if (c == 'E' && run == 3) op = Op::kWeekday;
    else if (c == 'H' && run <= 2) op = Op::kHour;
    else if (c == 'm' && run <= 2) op = Op::kMinute;
    else if (c == 's' && run <= 2) op = Op::kSecond;
    else if (c == 'S' && run <= 9) op = Op::kFraction;
    else if (c == ' ') op = Op::kSpace;
    else if (IsAlpha(c)) {
      return absl::InvalidArgumentError("time pattern: unknown field '" + std::string(pattern.substr(i, run)) +
                                        "' in '" + std::string(pattern) + "'");
    }
    if (op == Op::kLiteral) {
      tp.steps_.push_back({op, c});
      i += 1;
      continue;
    }
    if (op == Op::kYear4 || op == Op::kYear2) tp.has_year_ = true;
    tp.steps_.push_back({op, 0});
    i += run;
  }
  for (const Step& s : tp.steps_) {
    if (s.op == Op::kEpochSeconds || s.op == Op::kEpochMillis) tp.has_year_ = true;
  }
  return tp;
}

int64_t TimePattern::Parse(std::string_view text, int default_year) const {
  Fields f;
  size_t pos = 0;
  int64_t v = 0;
  for (const Step& s : steps_) {
    switch (s.op) {
      case Op::kYear4: if (!ReadNumber(text, &pos, 4, &f.year)) return kNoTime; break;
      case Op::kYear2:
        if (!ReadNumber(text, &pos, 2, &v)) return kNoTime;
        f.year = v < 70 ? 2000 + v : 1900 + v;
        break;
      case Op::kMonthNum: if (!ReadNumber(text, &pos, 2, &f.month)) return kNoTime; break;
      case Op::kMonthName: if ((f.month = ReadMonthName(text, &pos)) == 0) return kNoTime; break;
      case Op::kDay: if (!ReadNumber(text, &pos, 2, &f.day)) return kNoTime; break;
      case Op::kWeekday:
        if (pos >= text.size() || !IsAlpha(text[pos])) return kNoTime;
        while (pos < text.size() && IsAlpha(text[pos])) ++pos;
        break;
      case Op::kHour: if (!ReadNumber(text, &pos, 2, &f.hour)) return kNoTime; break;
      case Op::kMinute: if (!ReadNumber(text, &pos, 2, &f.minute)) return kNoTime; break;
      case Op::kSecond: if (!ReadNumber(text, &pos, 2, &f.second)) return kNoTime; break;
      case Op::kFraction: if (!ReadFractionMs(text, &pos, &f.millis)) return kNoTime; break;
      case Op::kEpochSeconds: {
        if (!ReadNumber(text, &pos, 12, &v)) return kNoTime;
        int64_t ms = 0;
        if (pos + 1 < text.size() && text[pos] == '.' && IsDigit(text[pos + 1])) {
          ++pos;
          ReadFractionMs(text, &pos, &ms);
        }
        f.epoch_ms = v * 1000 + ms;
        break;
      }
      case Op::kEpochMillis: if (!ReadNumber(text, &pos, 15, &f.epoch_ms)) return kNoTime; break;
      case Op::kSpace:
        if (pos >= text.size() || (text[pos] != ' ' && text[pos] != '\t')) return kNoTime;
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
        break;
      case Op::kLiteral:
        if (pos >= text.size() || text[pos] != s.literal) return kNoTime;
        ++pos;
        break;
    }
  }
  if (f.year < 0) f.year = default_year;
  return FieldsToMs(f);
}

int64_t ParseIso8601(std::string_view text) {
  Fields f;
  size_t pos = 0;
  if (!ReadNumber(text, &pos, 4, &f.year) || pos != 4) return kNoTime;
  auto expect = [&](char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  if (!expect('-') || !ReadNumber(text, &pos, 2, &f.month) || !expect('-') ||
      !ReadNumber(text, &pos, 2, &f.day)) {
    return kNoTime;
  }
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    if (!ReadNumber(text, &pos, 2, &f.hour) || !expect(':') || !ReadNumber(text, &pos, 2, &f.minute)) {
      return kNoTime;
    }
    if (expect(':') && !ReadNumber(text, &pos, 2, &f.second)) return kNoTime;
    if ((expect('.') || expect(',')) && !ReadFractionMs(text, &pos, &f.millis)) return kNoTime;
  }
  int64_t ms = FieldsToMs(f);
  if (ms == kNoTime) return kNoTime;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int64_t oh = 0, om = 0;
    if (!ReadNumber(text, &pos, 2, &oh)) return kNoTime;
    expect(':');
    ReadNumber(text, &pos, 2, &om);
    ms -= sign * (oh * 60 + om) * 60000;  // local time minus its offset is UTC
  }
  return ms;
}

}  // namespace fedlog::logparse
