// The aggregator's side of one secure-aggregation round (messages.h): it relays keys and encrypted shares,
// sums the masked inputs as they arrive, straight from their wire bytes in the round's lane width (keeping only
// the running sum, never an individual input), and once enough sites reveal their shares it removes the self
// masks of the survivors and the pairwise masks of the sites that dropped after sharing, in one pass over the
// sum, decodes the sum and checks it lies within what clipped inputs can produce.
//
// Each Close* step fixes a set of sites (U1 roster, U2 share holders, U3 survivors) and fails with
// FailedPrecondition when fewer than the threshold remain; the caller then abandons the round. Add* calls
// validate everything a site sends (indices, sizes, duplicates, kinds) and reject the message, not the round.
// Thread-compatible: the service that drives it holds one lock around each call.
#ifndef FEDLOG_COMMON_SECAGG_AGGREGATOR_SESSION_H_
#define FEDLOG_COMMON_SECAGG_AGGREGATOR_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/secagg/messages.h"
#include "common/secagg/quantize.h"

namespace fedlog::secagg {

struct AggregateResult {
  DecodedSum sum;                   // sum over survivors of w * clamp(x), and of w
  std::vector<uint32_t> survivors;  // U3
  std::vector<uint32_t> dropped;    // U2 \ U3: their pairwise masks were removed, their inputs are not in the sum
  // The weighted mean sum / weight_sum (empty when the weight sum is 0).
  std::vector<float> WeightedMean() const;
};

class AggregatorSession {
 public:
  static absl::StatusOr<std::unique_ptr<AggregatorSession>> Create(RoundConfig config);

  // Round 0. `keys.site_id` must be the identity the transport authenticated. Refused (the advertisement, not
  // the round): a second advertisement of a site, more than max_sites, two equal keys, a key another site
  // advertised, a key of small order (CheckX25519PublicKey).
  absl::Status AddAdvertisement(const AdvertiseKeys& keys);
  // Assigns indices 1..n in site-id order.
  absl::StatusOr<KeyRoster> CloseAdvertising();
  // Round 1.
  absl::Status AddShares(const ShareKeysMessage& message);
  // One delivery per share holder, keyed by its index.
  absl::StatusOr<std::map<uint32_t, ShareDelivery>> CloseSharing();
  // Round 2: adds the masked input (`lanes`: its wire bytes, messages.h MaskedInput) of the share holder with
  // index `from` into the running sum, straight from the bytes; nothing of it is kept.
  absl::Status AddMaskedInput(uint32_t from, absl::string_view lanes);
  absl::Status AddMaskedInput(const MaskedInput& input) { return AddMaskedInput(input.from, input.lanes); }
  absl::StatusOr<UnmaskRequest> CloseMasking();
  // Round 3.
  absl::Status AddUnmaskResponse(const UnmaskResponse& response);
  // Reconstructs the masks from t responses each, removes them and decodes the sum.
  absl::StatusOr<AggregateResult> Finish();

  // The roster index of a site id (0 when unknown); valid after CloseAdvertising.
  uint32_t IndexOf(const std::string& site_id) const;

 private:
  enum class Stage { kAdvertising, kSharing, kMasking, kUnmasking, kFinished };

  AggregatorSession(RoundConfig config, Quantizer quantizer);
  // Removes the survivors' self masks and the dropped sites' pairwise masks from `sum` and decodes it.
  template <typename Lane>
  absl::StatusOr<DecodedSum> Unmask(absl::Span<Lane> sum);

  RoundConfig config_;
  Quantizer quantizer_;
  Stage stage_ = Stage::kAdvertising;
  std::map<std::string, AdvertiseKeys> advertised_;
  std::map<uint32_t, RosterEntry> roster_;                        // U1
  std::map<uint32_t, std::vector<EncryptedShare>> inbox_;         // ciphertexts by receiver
  std::vector<uint32_t> holders_;                                 // U2 (senders of shares)
  // The running sum of masked inputs (vector_length + 1 lanes, after CloseSharing): 32-bit or 64-bit lanes
  // (quantizer_.lane_bits()); uninitialised until the first masked input is copied in.
  std::unique_ptr<uint32_t[]> sum32_;
  std::unique_ptr<uint64_t[]> sum64_;
  std::vector<uint32_t> survivors_, dropped_;                     // U3, U2 \ U3
  std::map<uint32_t, std::vector<ShamirShare>> seed_shares_;      // by owner (survivors)
  std::map<uint32_t, std::vector<ShamirShare>> key_shares_;       // by owner (dropped)
  std::vector<uint32_t> responders_;
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_AGGREGATOR_SESSION_H_
