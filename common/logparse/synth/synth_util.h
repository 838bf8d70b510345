// Internals of the synthetic generator: a fixed PRNG and time formatting. Not part of the public API.
#ifndef FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_UTIL_H_
#define FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_UTIL_H_

#include <cstdint>
#include <string>

namespace fedlog::logparse::synth {

// SplitMix64: the same sequence on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : (Next() >> 11) % n; }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Uniform(N)];
  }

 private:
  uint64_t state_;
};

struct Civil {
  int year, month, day, hour, minute, second, millis, weekday;  // weekday 0 = Sunday
};
Civil ToCivil(int64_t epoch_ms);

// Formats like "%04d-%02d-%02d" into a std::string.
std::string Fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));

extern const char* const kMonthNames[12];
extern const char* const kWeekdayNames[7];

std::string RandomIp(Rng* rng);

}  // namespace fedlog::logparse::synth

#endif  // FEDLOG_COMMON_LOGPARSE_SYNTH_SYNTH_UTIL_H_
