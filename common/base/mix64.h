// SplitMix64's finaliser (Steele, Lea and Flood 2014): a fixed 64-bit mix, so that a key hashes to the same value
// in every process. Used for count-min buckets (common/kinds), kind keys (common/fewshot/session_kinds.cc) and
// tie-break keys (common/active/ranking.h). Not a cryptographic hash: never use it for keys, masks or noise.
#ifndef FEDLOG_COMMON_BASE_MIX64_H_
#define FEDLOG_COMMON_BASE_MIX64_H_

#include <cstdint>

namespace fedlog {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_MIX64_H_
