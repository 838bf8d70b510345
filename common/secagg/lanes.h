// Masked lanes as bytes on the wire (messages.h MaskedInput): little-endian, sizeof(Lane) bytes each, Lane
// uint32_t or uint64_t by the round's lane width. The site appends its masked lanes to the upload buffer chunk
// by chunk (AppendLanes), and the aggregator adds an upload into its running sum straight from the received
// bytes (CopyLanes for the first, AddLanes for the others), so that neither end makes an intermediate vector
// per site and the sum is never zero-filled. On a little-endian host both
// are one memcpy-like loop the compiler vectorises.
// Thread-safe (pure functions).
#ifndef FEDLOG_COMMON_SECAGG_LANES_H_
#define FEDLOG_COMMON_SECAGG_LANES_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace fedlog::secagg {

// Appends `count` lanes to `out` as little-endian bytes.
template <typename Lane>
void AppendLanes(const Lane* lanes, size_t count, std::string* out) {
  if constexpr (std::endian::native == std::endian::little) {
    out->append(reinterpret_cast<const char*>(lanes), count * sizeof(Lane));
  } else {
    for (size_t i = 0; i < count; ++i) {
      for (size_t b = 0; b < sizeof(Lane); ++b) out->push_back(static_cast<char>((lanes[i] >> (8 * b)) & 0xff));
    }
  }
}

// The i-th little-endian lane of `bytes` (the caller checks the size).
template <typename Lane>
Lane LaneAt(absl::string_view bytes, size_t i) {
  Lane v;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, bytes.data() + i * sizeof(Lane), sizeof(Lane));
  } else {
    v = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + i * sizeof(Lane);
    for (size_t b = sizeof(Lane); b-- > 0;) v = static_cast<Lane>((v << 8) | p[b]);
  }
  return v;
}

// sum[i] += lane i of `bytes` (mod 2^(8 sizeof(Lane))), for every lane of `bytes`; bytes.size() must be a
// multiple of sizeof(Lane) and sum must hold bytes.size() / sizeof(Lane) lanes.
template <typename Lane>
void AddLanes(absl::string_view bytes, Lane* sum) {
  const size_t n = bytes.size() / sizeof(Lane);
  for (size_t i = 0; i < n; ++i) sum[i] += LaneAt<Lane>(bytes, i);
}

// sum[i] = lane i of `bytes`, for every lane of `bytes` (sizes as for AddLanes).
template <typename Lane>
void CopyLanes(absl::string_view bytes, Lane* sum) {
  const size_t n = bytes.size() / sizeof(Lane);
  for (size_t i = 0; i < n; ++i) sum[i] = LaneAt<Lane>(bytes, i);
}

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_LANES_H_
