// The mask PRG of secure aggregation: a 32-byte seed keys AES-256-CTR (zero IV, each key expands exactly one
// stream), whose key stream, read as little-endian uint64 lanes, is added to or subtracted from a vector modulo
// 2^64. Every lane is uniform given a uniform seed: a site's 256-bit seed is never squeezed into a smaller
// integer, and no non-cryptographic generator is involved (the flaw of Flower issue #7522).
// Thread-safe: no shared state.
#ifndef FEDLOG_COMMON_SECAGG_PRG_H_
#define FEDLOG_COMMON_SECAGG_PRG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/secagg/crypto.h"

namespace fedlog::secagg {

enum class MaskSign { kAdd, kSubtract };

// lanes[i] = lanes[i] +/- PRG(seed)[i] (mod 2^64).
absl::Status ApplyMask(const SecretKey& seed, MaskSign sign, absl::Span<uint64_t> lanes);

// One mask of a sum of masks: its seed (not owned; must outlive the call) and sign.
struct MaskTerm {
  const SecretKey* seed = nullptr;
  MaskSign sign = MaskSign::kAdd;
};

// The same as ApplyMask for each term in turn, in one pass over `lanes`: each chunk of lanes stays in cache
// while every term's key stream is added to it, instead of one pass over the whole vector per term (a site
// masks with one term per peer plus its self mask; the aggregator removes one per survivor).
absl::Status ApplyMasks(absl::Span<const MaskTerm> terms, absl::Span<uint64_t> lanes);

// out[i] = PRG(seed)[i].
absl::Status ExpandMask(const SecretKey& seed, absl::Span<uint64_t> out);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_PRG_H_
