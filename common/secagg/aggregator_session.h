// The aggregator's side of one secure-aggregation round (messages.h): it relays keys and encrypted shares,
// sums the masked inputs as they arrive, straight from their wire bytes in the round's lane width (keeping only
// the running sum, never an individual input), and once enough sites reveal their shares it removes the self
// masks of the survivors and the pairwise masks of the sites that dropped after sharing, in one pass over the
// sum, decodes the sum and checks it lies within what clipped inputs can produce.
//
// Each Close* step fixes a set of sites (U1 roster, U2 share holders, U3 survivors) and fails with
// FailedPrecondition when fewer than the threshold remain, or when a site's shares opened at fewer than the
// threshold of survivors (complaints, docs/rules/s24-secshares.md); the caller then abandons the round. Add* calls
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

// A site the session found spoiling shares (docs/rules/s24-secshares.md); `why` names the step and the
// evidence, never a share value.
struct Blame {
  uint32_t index = 0;
  std::string why;
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
  // `complaints`: the share holders whose share did not open at `from` (ascending, not `from`); refused
  // (the input, not the round) otherwise.
  absl::Status AddMaskedInput(uint32_t from, absl::string_view lanes, absl::Span<const uint32_t> complaints = {});
  absl::Status AddMaskedInput(const MaskedInput& input) {
    return AddMaskedInput(input.from, input.lanes, input.complaints);
  }
  // The share holders whose secrets can no longer be reconstructed: fewer than the threshold of `candidates`
  // (the share holders while masking is open, the survivors at its close) hold a share of theirs that opened.
  std::vector<uint32_t> Unrecoverable(const std::vector<uint32_t>& candidates) const;
  // Holders, by index, and the sites that complained about them.
  const std::map<uint32_t, std::vector<uint32_t>>& complained_about() const { return complained_about_; }
  const std::vector<uint32_t>& share_holders() const { return holders_; }
  // FailedPrecondition also when a survivor's self-mask seed or a dropped site's mask key has fewer than the
  // threshold of survivors able to reveal a share of it (Unrecoverable): no unmask request goes out then.
  absl::StatusOr<UnmaskRequest> CloseMasking();
  // Round 3. A response carries one share per share holder except those its sender complained about.
  absl::Status AddUnmaskResponse(const UnmaskResponse& response);
  // Reconstructs each mask secret from every revealed share, checked against the owner's seed commitment or
  // public key (shamir.h ShamirCombineChecked, so that wrong shares from one site are outvoted when more than
  // t were revealed), removes the masks and decodes the sum. The sites found spoiling shares are in blame().
  absl::StatusOr<AggregateResult> Finish();
  // Sites blamed for wrong revealed or dealt shares (after Finish, whether or not it succeeded).
  const std::vector<Blame>& blame() const { return blame_; }

  // The roster index of a site id (0 when unknown); valid after CloseAdvertising.
  uint32_t IndexOf(const std::string& site_id) const;

 private:
  enum class Stage { kAdvertising, kSharing, kMasking, kUnmasking, kFinished };

  AggregatorSession(RoundConfig config, Quantizer quantizer);
  // Removes the survivors' self masks and the dropped sites' pairwise masks from `sum` and decodes it.
  // Reconstructs and checks the survivors' seeds and the dropped sites' mask keys, filling blame_.
  absl::Status Reconstruct(std::map<uint32_t, SecretKey>* seeds, std::map<uint32_t, SecretKey>* keys);
  template <typename Lane>
  absl::StatusOr<DecodedSum> Unmask(absl::Span<Lane> sum, const std::map<uint32_t, SecretKey>& seeds,
                                    const std::map<uint32_t, SecretKey>& keys);

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
  std::map<uint32_t, Commitment> commitments_;                    // seed commitments by index
  std::map<uint32_t, std::vector<uint32_t>> complaints_;          // by complainer: whom it named
  std::map<uint32_t, std::vector<uint32_t>> complained_about_;    // by holder: who named it
  std::vector<Blame> blame_;
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_AGGREGATOR_SESSION_H_
