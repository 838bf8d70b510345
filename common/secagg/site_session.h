// One site's side of one secure-aggregation round (messages.h). The site masks its weighted, quantised input
// with a self mask PRG(b_u) and pairwise masks +/-PRG(s_uv) that cancel in the sum, and Shamir-shares b_u and
// its mask private key s_sk among all sites so that the aggregator can remove the masks of the sum, and only of
// the sum, even when sites drop out after masking.
//
// The site protects itself against an aggregator that deviates:
//  - it answers at most one unmask request per round, and refuses one that names a site both as survivor and as
//    dropped (revealing both b_v and s_sk_v would unmask v's individual input);
//  - it refuses a round whose threshold is below its own policy, or not a majority of the roster when
//    require_majority is set, and an unmask request with fewer than t survivors (or than min_survivors);
//  - it refuses rosters with duplicate indices, identities or keys, or that misstate its own keys, and share
//    deliveries that are misaddressed or repeat a sender; a share that does not open (authentication, format,
//    envelope) is the sender's fault: the site goes on without it and reports the sender (MaskedInput.complaints,
//    docs/rules/s24-secshares.md);
//  - it refuses a lane width and fraction bits (quantize.h) under which the sum of max_sites inputs could wrap
//    (at Create), or that quantise its own input, at its weight, coarser than 2^-16 (at MaskInput, before
//    anything of the input is sent).
// Against an aggregator that puts keys of its own in the roster or shows different sites different survivor
// sets, the caller checks the roster's certificates and key signatures before ShareSecrets and the survivors'
// signatures before Unmask (peer_auth.h; client/secagg_client.cc), since the signing keys are the transport's.
//
// No secret (keys, seeds, shares) is logged or put into a Status message.
// Thread-compatible: one session per round, driven by one thread.
#ifndef FEDLOG_COMMON_SECAGG_SITE_SESSION_H_
#define FEDLOG_COMMON_SECAGG_SITE_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/secagg/messages.h"
#include "common/secagg/quantize.h"

namespace fedlog::secagg {

struct SiteOptions {
  std::string site_id;           // this site's identity, as the aggregator will see it in the roster
  int min_threshold = 2;         // site policy: refuse rounds with a lower t
  bool require_majority = true;  // refuse rounds with 2t <= n (the paper's bound against a curious server)
  // Refuse an unmask request with fewer survivors than this (besides t). Site-level DP sets the run's n_min:
  // the site's noise share is calibrated so that n_min of them reach the sum (docs/PRIVACY.md).
  int min_survivors = 0;
};

class SiteSession {
 public:
  // InvalidArgument for an invalid config or empty site id, FailedPrecondition when config.threshold is below
  // options.min_threshold.
  static absl::StatusOr<std::unique_ptr<SiteSession>> Create(SiteOptions options, RoundConfig config);
  ~SiteSession();

  // Round 0: fresh X25519 key pairs for share encryption and masking, and the self-mask seed b (its
  // commitment, protocol.h SeedCommitment, is advertised with the keys).
  absl::StatusOr<AdvertiseKeys> Advertise();
  // Round 1: validates the roster and encrypts one share pair (of the mask key and b) for every peer.
  absl::StatusOr<ShareKeysMessage> ShareSecrets(const KeyRoster& roster);
  // Round 2: decrypts the shares addressed to this site (one that does not open is left out and its sender
  // named in MaskedInput.complaints; a delivery the aggregator got wrong is refused), checks the
  // quantisation's precision at `weight`, then encodes (x, weight) (quantize.h) and masks it chunk by chunk
  // into the upload bytes (MaskedInput.lanes). x.size() must equal config.vector_length. The last
  // `unit_weight_lanes` values of x are encoded with weight 1 instead (the message-kind sections,
  // kind_sections.h: what one site adds to one of them is bounded by the clip alone); the weight lane still
  // carries `weight`. InvalidArgument when they exceed x, or when the round's max_weight is below 1.
  absl::StatusOr<MaskedInput> MaskInput(const ShareDelivery& delivery, absl::Span<const float> x, double weight,
                                        uint64_t unit_weight_lanes = 0);
  // Round 3: reveals the shares the request allows (see the class comment), once; none of the sites it
  // complained about.
  absl::StatusOr<UnmaskResponse> Unmask(const UnmaskRequest& request);

  uint32_t index() const { return index_; }  // this site's roster index (0 before ShareSecrets)

  // For tests that check secrets never leak: copies of this site's secrets.
  struct Secrets {
    SecretKey self_mask_seed, mask_private_key, encryption_private_key;
  };
  Secrets SecretsForTesting() const;

 private:
  enum class State { kNew, kAdvertised, kShared, kMasked, kDone, kAborted };
  struct HeldShares {
    ShamirShare key_share, seed_share;
  };

  SiteSession(SiteOptions options, RoundConfig config, Quantizer quantizer);
  absl::Status CheckRoster(const KeyRoster& roster);
  absl::Status TakeShares(const ShareDelivery& delivery);
  // Opens one delivered share into held_; the error names what failed (never a share value).
  absl::Status OpenShare(const EncryptedShare& e);
  absl::Status Abort(absl::Status why);

  SiteOptions options_;
  RoundConfig config_;
  Quantizer quantizer_;
  State state_ = State::kNew;
  uint32_t index_ = 0;
  X25519KeyPair encryption_keys_, mask_keys_;
  SecretKey self_mask_seed_;
  std::map<uint32_t, RosterEntry> roster_;      // U1 by index
  std::vector<uint32_t> holders_;               // U2
  std::map<uint32_t, HeldShares> held_;         // shares this site holds, by owner (itself included)
  std::vector<uint32_t> complaints_;            // senders whose share did not open, ascending
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_SITE_SESSION_H_
