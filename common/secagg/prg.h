// The mask PRG of secure aggregation: a 32-byte seed keys AES-256-CTR (zero IV, each key expands exactly one
// stream), whose key stream, read as consecutive lanes of the round's width (uint32 or uint64, host byte
// order), is added to or subtracted from a vector modulo 2^32 or 2^64. Every lane is uniform given a uniform
// seed: a site's 256-bit seed is never squeezed into a smaller integer, and no non-cryptographic generator is
// involved (the flaw of Flower issue #7522). One implementation serves both widths (templates on the lane type,
// instantiated for uint32_t and uint64_t).
// Thread-safe: no shared state (a MaskStreams object belongs to one thread at a time).
#ifndef FEDLOG_COMMON_SECAGG_PRG_H_
#define FEDLOG_COMMON_SECAGG_PRG_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/secagg/crypto.h"

namespace fedlog::secagg {

enum class MaskSign { kAdd, kSubtract };

// One mask of a sum of masks: its seed (not owned; must outlive the call) and sign.
struct MaskTerm {
  const SecretKey* seed = nullptr;
  MaskSign sign = MaskSign::kAdd;
};

// The key streams of several mask terms, applied to a vector in consecutive pieces: Apply(piece) adds (or
// subtracts) the next piece.size() lanes of every term's stream to the piece, 16 KiB at a time, so that each
// piece of lanes stays in cache while every stream is added to it. A site quantises, masks and appends its
// masked input chunk by chunk with it (site_session.cc); a whole vector at once is ApplyMasks. The lane type
// of every Apply call on one object must be the same (the streams advance by its size).
class MaskStreams {
 public:
  // InvalidArgument for a term without a seed; Internal when OpenSSL fails.
  static absl::StatusOr<MaskStreams> Start(absl::Span<const MaskTerm> terms);
  MaskStreams(MaskStreams&&) noexcept;
  MaskStreams& operator=(MaskStreams&&) noexcept;
  ~MaskStreams();

  template <typename Lane>
  absl::Status Apply(absl::Span<Lane> piece);

 private:
  struct Impl;
  explicit MaskStreams(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// lanes[i] = lanes[i] +/- PRG(seed)[i] (mod 2^32 or 2^64, by the lane type).
template <typename Lane>
absl::Status ApplyMask(const SecretKey& seed, MaskSign sign, absl::Span<Lane> lanes);

// The same as ApplyMask for each term in turn, in one pass over `lanes` (MaskStreams): a site masks with one
// term per peer plus its self mask; the aggregator removes one per survivor.
template <typename Lane>
absl::Status ApplyMasks(absl::Span<const MaskTerm> terms, absl::Span<Lane> lanes);

// out[i] = PRG(seed)[i].
template <typename Lane>
absl::Status ExpandMask(const SecretKey& seed, absl::Span<Lane> out);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_PRG_H_
