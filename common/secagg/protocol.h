// Derivations and checks shared by both ends of secure aggregation (site_session.h, aggregator_session.h).
// Every derived key is bound to the round's session id and to its purpose, so nothing from one round or one
// purpose can be replayed into another. Thread-safe.
#ifndef FEDLOG_COMMON_SECAGG_PROTOCOL_H_
#define FEDLOG_COMMON_SECAGG_PROTOCOL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secagg/crypto.h"
#include "common/secagg/messages.h"

namespace fedlog::secagg {

// The most sites one round accepts (the roster is exchanged in full).
inline constexpr int kMaxSites = 4096;
inline constexpr uint64_t kMaxVectorLength = uint64_t{1} << 28;

// InvalidArgument unless session_id is 1..256 bytes, 1 <= threshold <= quantization.max_sites, and
// 1 <= vector_length <= kMaxVectorLength, and the quantiser accepts its options.
absl::Status ValidateRoundConfig(const RoundConfig& config);

// The seed both u and v derive for their pairwise mask: HKDF(X25519(s_sk_u, s_pk_v), session, "pairwise mask").
absl::StatusOr<SecretKey> PairwiseMaskSeed(const SecretKey& mask_private_key, const PublicKey& peer_mask_key,
                                           absl::string_view session_id);

// The AES-256-GCM key that encrypts shares between u and v.
absl::StatusOr<SecretKey> ShareEncryptionKey(const SecretKey& encryption_private_key,
                                             const PublicKey& peer_encryption_key, absl::string_view session_id);

// The commitment a site advertises to its self-mask seed b: SHA-256 of a label, the session id and b. The seed
// is 32 random bytes, so the digest tells nothing of the mask; it binds the site to one b, against which the
// aggregator checks b's reconstruction from revealed shares.
absl::StatusOr<Commitment> SeedCommitment(const SecretKey& seed, absl::string_view session_id);

// Associated data of the share ciphertext from `from` to `to`: binds version, session and direction.
std::string ShareAad(absl::string_view session_id, uint32_t from, uint32_t to);

// Plaintext of an encrypted share: from, to, share of the mask private key, share of the self-mask seed.
std::string EncodeSharePlaintext(uint32_t from, uint32_t to, const ShamirShare& key_share,
                                 const ShamirShare& seed_share);
struct SharePlaintext {
  uint32_t from = 0, to = 0;
  ShamirShare key_share, seed_share;
};
absl::StatusOr<SharePlaintext> DecodeSharePlaintext(absl::string_view bytes);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_PROTOCOL_H_
