// Small helpers the benchmarks share: a "--name value" flag reader and the median of a sample.
// Header-only; thread-safe (pure functions).
#ifndef FEDLOG_BENCH_BENCH_UTIL_H_
#define FEDLOG_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace fedlog::bench {

// The value after `name` in argv ("--sites 8,16"), else `fallback`.
inline std::string Arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

// The median (upper median for an even count); 0 for an empty sample.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace fedlog::bench

#endif  // FEDLOG_BENCH_BENCH_UTIL_H_
