// The messages of secure aggregation (Bonawitz et al., CCS'17, full graph; peer_auth.h adds the active variant's
// signatures) as plain structs, so that the protocol runs as two state machines (site_session.h,
// aggregator_session.h) independent of the transport; federation.proto can carry them field by field.
//
//   round  site -> aggregator        aggregator -> site
//   0      AdvertiseKeys              KeyRoster            (indices 1..n assigned, every site's public keys)
//   1      ShareKeysMessage           ShareDelivery        (Shamir shares, AES-GCM encrypted per pair)
//   2      MaskedInput                survivor set         (survivors and dropped sites, to confirm)
//   3      SurvivorConfirmation       UnmaskRequest        (the set again, with the survivors' signatures of it)
//   4      UnmaskResponse             -                    (self-mask shares of survivors, key shares of dropped)
//
// Only public keys, a commitment to the self-mask seed, ciphertexts, masked vectors, the senders whose shares
// did not open (complaints) and (in round 3) shares the protocol allows to reveal travel. Version 2 added the
// commitment and the complaints (docs/rules/s24-secshares.md); version 3 the stated weight with the keys and
// each site's capped weight in its roster (weights.h, docs/rules/s25-weightcap.md); version 4 the stated norm
// (norm_bound.h); version 5 the signatures against an aggregator that deviates actively (peer_auth.h): keys
// signed with the site's certificate key and passed on with the certificate in the roster, and the consistency
// step (round 3). A site or aggregator of another version is refused.
#ifndef FEDLOG_COMMON_SECAGG_MESSAGES_H_
#define FEDLOG_COMMON_SECAGG_MESSAGES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/secagg/crypto.h"
#include "common/secagg/quantize.h"
#include "common/secagg/shamir.h"

namespace fedlog::secagg {

inline constexpr uint32_t kProtocolVersion = 5;

// SHA-256 over a label, the session id and the self-mask seed (protocol.h SeedCommitment).
using Commitment = std::array<uint8_t, 32>;

// Fixed for a round by the aggregator (from the run plan) and known to every site before it starts.
struct RoundConfig {
  std::string session_id;        // unique per round, with fresh randomness; salts every derived key
  int threshold = 0;             // t: shares needed to reconstruct; also the fewest survivors accepted
  uint64_t vector_length = 0;    // d: floats per site input (the weight lane is added)
  QuantizationOptions quantization;  // R, W, N, and the lane width and fraction bits of the round
};

struct AdvertiseKeys {
  std::string site_id;       // as the transport authenticated it (the certificate), never self-declared
  PublicKey encryption_key;  // c_pk: agrees the per-pair key that encrypts shares
  PublicKey mask_key;        // s_pk: agrees the per-pair mask seed
  Commitment seed_commitment{};  // of b_u: lets the aggregator check b_u's reconstruction
  // The weight the site states before masking (its sample count; 1 under site-level DP). Not used by the
  // sessions: the aggregator caps it (weights.h) and tells the site, alone, the weight to mask.
  double weight = 0;
  // Protocol version 4: the norm the site states (norm_bound.h ReportedNorm); 0 = not stated.
  double update_norm = 0;
  // Protocol version 5: the site's signature of KeysSigningText (peer_auth.h) with its certificate's key, and
  // (set by the aggregator from the connection, never from the request) that certificate.
  std::string key_signature;
  std::string certificate;
};

struct RosterEntry {
  uint32_t index = 0;  // 1..n, the site's Shamir evaluation point
  std::string site_id;
  PublicKey encryption_key;
  PublicKey mask_key;
  std::string certificate;    // version 5: the site's certificate (PEM), as it presented it to the aggregator
  std::string key_signature;  // version 5: its signature of its keys (peer_auth.h KeysSigningText)
};

struct KeyRoster {
  std::vector<RosterEntry> entries;  // U1, ordered by index
};

struct EncryptedShare {
  uint32_t from = 0;
  uint32_t to = 0;
  std::string ciphertext;  // AES-256-GCM(from, to, share of s_sk, share of b) under the pair's key
};

struct ShareKeysMessage {
  uint32_t from = 0;
  std::vector<EncryptedShare> shares;  // one per other roster member
};

struct ShareDelivery {
  std::vector<uint32_t> share_holders;  // U2: every site whose shares went out, ascending
  std::vector<EncryptedShare> shares;   // those addressed to the receiving site
};

struct MaskedInput {
  uint32_t from = 0;
  // d + 1 lanes, masked w*x then masked w, as they go on the wire: little-endian, lane_bits / 8 bytes each
  // (wire.h LaneBytes; the site writes them in place, the aggregator adds them into its sum from here).
  std::string lanes;
  // The share holders whose share addressed to this site did not open (ascending): this site continues
  // without it and reveals nothing for them at unmasking.
  std::vector<uint32_t> complaints;
};

// Version 5: one site's signature of the survivor set it was asked to confirm (peer_auth.h SurvivorsSigningText).
struct SurvivorSignature {
  uint32_t from = 0;
  std::string signature;
};

struct UnmaskRequest {
  std::vector<uint32_t> survivors;  // U3: sites whose masked input the aggregator holds
  std::vector<uint32_t> dropped;    // U2 \ U3
  // Version 5: the survivors' signatures of (survivors, dropped), ascending by sender; empty in the set a site
  // is asked to confirm.
  std::vector<SurvivorSignature> signatures;
};

enum class ShareKind { kSelfMaskSeed, kMaskPrivateKey };

struct RevealedShare {
  uint32_t owner = 0;  // whose secret this is a share of
  ShareKind kind = ShareKind::kSelfMaskSeed;
  ShamirShare share;
};

struct UnmaskResponse {
  uint32_t from = 0;
  // A self-mask share per survivor, a mask-key share per dropped site; none for the sites this site complained
  // about (it holds no share of theirs).
  std::vector<RevealedShare> shares;
};

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_MESSAGES_H_
