#include "common/secagg/wire.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/secagg/lanes.h"
#include "common/secagg/peer_auth.h"
#include "common/secagg/protocol.h"
#include "common/secagg/weights.h"

namespace fedlog::secagg {
namespace {

absl::StatusOr<PublicKey> KeyFrom(const std::string& bytes, const char* what) {
  PublicKey key;
  if (bytes.size() != key.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be ", key.size(), " bytes, got ", bytes.size()));
  }
  std::memcpy(key.data(), bytes.data(), key.size());
  return key;
}

std::string KeyBytes(const PublicKey& key) { return std::string(reinterpret_cast<const char*>(key.data()), key.size()); }

absl::Status CheckIndex(uint32_t index, const char* what) {
  if (index == 0 || index > static_cast<uint32_t>(kMaxSites)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " index ", index, " outside 1..", kMaxSites));
  }
  return absl::OkStatus();
}

// Indices in 1..kMaxSites, at most kMaxSites of them.
// A signature a peer sent: present and at most kMaxSignatureBytes (peer_auth.h verifies it).
absl::Status CheckSignatureSize(const std::string& signature, const char* what) {
  if (signature.empty()) return absl::InvalidArgumentError(absl::StrCat("no ", what, " (protocol version 5)"));
  if (signature.size() > kMaxSignatureBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " of ", signature.size(), " bytes (at most ",
                                                   kMaxSignatureBytes, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> IndexList(const google::protobuf::RepeatedField<uint32_t>& in,
                                                const char* what) {
  if (in.size() > kMaxSites) return absl::InvalidArgumentError(absl::StrCat("too many ", what));
  std::vector<uint32_t> out(in.begin(), in.end());
  for (uint32_t i : out) FEDLOG_RETURN_IF_ERROR(CheckIndex(i, what));
  return out;
}

absl::StatusOr<EncryptedShare> ShareFrom(const v1::SecAggEncryptedShare& p) {
  FEDLOG_RETURN_IF_ERROR(CheckIndex(p.from(), "share sender"));
  FEDLOG_RETURN_IF_ERROR(CheckIndex(p.to(), "share receiver"));
  if (p.ciphertext().empty() || p.ciphertext().size() > kMaxShareCiphertextBytes) {
    return absl::InvalidArgumentError(absl::StrCat("share ciphertext of ", p.ciphertext().size(), " bytes"));
  }
  return EncryptedShare{p.from(), p.to(), p.ciphertext()};
}

void ShareTo(const EncryptedShare& s, v1::SecAggEncryptedShare* p) {
  p->set_from(s.from);
  p->set_to(s.to);
  p->set_ciphertext(s.ciphertext);
}

absl::StatusOr<std::vector<EncryptedShare>> SharesFrom(
    const google::protobuf::RepeatedPtrField<v1::SecAggEncryptedShare>& in) {
  if (in.size() > kMaxSites) return absl::InvalidArgumentError("too many shares");
  std::vector<EncryptedShare> out;
  out.reserve(in.size());
  for (const auto& p : in) {
    FEDLOG_ASSIGN_OR_RETURN(EncryptedShare s, ShareFrom(p));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

v1::SecAggConfig ConfigToProto(const RoundConfig& config) {
  v1::SecAggConfig p;
  p.set_protocol_version(kProtocolVersion);
  p.set_session_id(config.session_id);
  p.set_threshold(config.threshold);
  p.set_vector_length(config.vector_length);
  p.set_clip_range(config.quantization.clip_range);
  p.set_max_weight(config.quantization.max_weight);
  p.set_max_sites(config.quantization.max_sites);
  const QuantizationOptions& q = config.quantization;
  p.set_lane_bits(static_cast<uint32_t>(q.lane_bits));
  p.set_fractional_bits(q.fractional_bits != 0 ? q.fractional_bits : MaxFractionalBits(q, q.lane_bits));
  return p;
}

absl::StatusOr<RoundConfig> ConfigFromProto(const v1::SecAggConfig& p) {
  if (p.protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat("secure aggregation protocol version ", p.protocol_version(),
                                                      " is not supported (this build speaks ", kProtocolVersion,
                                                      ")"));
  }
  RoundConfig c;
  c.session_id = p.session_id();
  c.threshold = p.threshold();
  c.vector_length = p.vector_length();
  c.quantization.clip_range = p.clip_range();
  c.quantization.max_weight = p.max_weight();
  c.quantization.max_sites = p.max_sites();
  // Lane width and fraction bits as the aggregator chose them (quantize.h ChooseLanes). An aggregator that
  // states neither (before they existed) meant 64-bit lanes at the largest f that cannot wrap; one that
  // states a width states its f too. ValidateRoundConfig refuses any (b, f) under which the sum could wrap.
  if (p.lane_bits() == 0 && p.fractional_bits() == 0) {
    c.quantization.lane_bits = 64;
    c.quantization.fractional_bits = 0;
  } else if ((p.lane_bits() != 32 && p.lane_bits() != 64) || p.fractional_bits() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("secure aggregation lanes of ", p.lane_bits(), " bits with ",
                                                   p.fractional_bits(), " fractional bits"));
  } else {
    c.quantization.lane_bits = static_cast<int>(p.lane_bits());
    c.quantization.fractional_bits = p.fractional_bits();
  }
  FEDLOG_RETURN_IF_ERROR(ValidateRoundConfig(c));
  return c;
}

v1::SecAggAdvertiseRequest AdvertiseToProto(const AdvertiseKeys& keys, const std::string& session_id) {
  v1::SecAggAdvertiseRequest p;
  p.set_session_id(session_id);
  p.set_encryption_key(KeyBytes(keys.encryption_key));
  p.set_mask_key(KeyBytes(keys.mask_key));
  p.set_seed_commitment(KeyBytes(keys.seed_commitment));
  p.set_weight(keys.weight);
  p.set_update_norm(keys.update_norm);
  p.set_key_signature(keys.key_signature);
  return p;
}

absl::StatusOr<AdvertiseKeys> AdvertiseFromProto(const v1::SecAggAdvertiseRequest& p,
                                                 const std::string& authenticated_site_id) {
  AdvertiseKeys k;
  k.site_id = authenticated_site_id;
  FEDLOG_ASSIGN_OR_RETURN(k.encryption_key, KeyFrom(p.encryption_key(), "encryption_key"));
  FEDLOG_ASSIGN_OR_RETURN(k.mask_key, KeyFrom(p.mask_key(), "mask_key"));
  FEDLOG_ASSIGN_OR_RETURN(k.seed_commitment, KeyFrom(p.seed_commitment(), "seed_commitment"));
  FEDLOG_RETURN_IF_ERROR(CheckStatedWeight(p.weight()));
  k.weight = p.weight();
  if (!std::isfinite(p.update_norm()) || p.update_norm() < 0) {
    return absl::InvalidArgumentError("a stated update norm must be finite and >= 0");
  }
  k.update_norm = p.update_norm();  // its upper bound depends on the round (SecAggRound::PostAdvertisement)
  FEDLOG_RETURN_IF_ERROR(CheckSignatureSize(p.key_signature(), "key signature"));
  k.key_signature = p.key_signature();  // verified against the caller's certificate by the aggregator
  return k;
}

void ComplaintsToHeader(const MaskedInput& input, v1::UpdateHeader* header) {
  header->clear_secagg_complaints();
  for (uint32_t v : input.complaints) header->add_secagg_complaints(v);
}

absl::StatusOr<std::vector<uint32_t>> ComplaintsFromHeader(const v1::UpdateHeader& header) {
  return IndexList(header.secagg_complaints(), "complaints");
}

v1::SecAggRoster RosterToProto(const KeyRoster& roster) {
  v1::SecAggRoster p;
  for (const RosterEntry& e : roster.entries) {
    v1::SecAggRosterEntry* q = p.add_entries();
    q->set_index(e.index);
    q->set_site_id(e.site_id);
    q->set_encryption_key(KeyBytes(e.encryption_key));
    q->set_mask_key(KeyBytes(e.mask_key));
    q->set_certificate(e.certificate);
    q->set_key_signature(e.key_signature);
  }
  return p;
}

absl::StatusOr<KeyRoster> RosterFromProto(const v1::SecAggRoster& p) {
  if (p.entries_size() > kMaxSites) return absl::InvalidArgumentError("roster too long");
  KeyRoster r;
  for (const auto& q : p.entries()) {
    RosterEntry e;
    FEDLOG_RETURN_IF_ERROR(CheckIndex(q.index(), "roster"));
    if (q.site_id().empty() || q.site_id().size() > 256) return absl::InvalidArgumentError("roster site id size");
    e.index = q.index();
    e.site_id = q.site_id();
    FEDLOG_ASSIGN_OR_RETURN(e.encryption_key, KeyFrom(q.encryption_key(), "roster encryption_key"));
    FEDLOG_ASSIGN_OR_RETURN(e.mask_key, KeyFrom(q.mask_key(), "roster mask_key"));
    if (q.certificate().empty() || q.certificate().size() > kMaxCertificateBytes) {
      return absl::InvalidArgumentError(absl::StrCat("roster certificate of ", q.certificate().size(),
                                                     " bytes (1 to ", kMaxCertificateBytes, ")"));
    }
    FEDLOG_RETURN_IF_ERROR(CheckSignatureSize(q.key_signature(), "roster key signature"));
    e.certificate = q.certificate();
    e.key_signature = q.key_signature();
    r.entries.push_back(std::move(e));
  }
  return r;
}

v1::SecAggShareKeysRequest ShareKeysToProto(const ShareKeysMessage& m, const std::string& session_id) {
  v1::SecAggShareKeysRequest p;
  p.set_session_id(session_id);
  p.set_from(m.from);
  for (const EncryptedShare& s : m.shares) ShareTo(s, p.add_shares());
  return p;
}

absl::StatusOr<ShareKeysMessage> ShareKeysFromProto(const v1::SecAggShareKeysRequest& p) {
  ShareKeysMessage m;
  FEDLOG_RETURN_IF_ERROR(CheckIndex(p.from(), "sender"));
  m.from = p.from();
  FEDLOG_ASSIGN_OR_RETURN(m.shares, SharesFrom(p.shares()));
  return m;
}

v1::SecAggShareDelivery DeliveryToProto(const ShareDelivery& d) {
  v1::SecAggShareDelivery p;
  for (uint32_t h : d.share_holders) p.add_share_holders(h);
  for (const EncryptedShare& s : d.shares) ShareTo(s, p.add_shares());
  return p;
}

absl::StatusOr<ShareDelivery> DeliveryFromProto(const v1::SecAggShareDelivery& p) {
  ShareDelivery d;
  FEDLOG_ASSIGN_OR_RETURN(d.share_holders, IndexList(p.share_holders(), "share holders"));
  FEDLOG_ASSIGN_OR_RETURN(d.shares, SharesFrom(p.shares()));
  return d;
}

v1::SecAggUnmaskList UnmaskRequestToProto(const UnmaskRequest& r) {
  v1::SecAggUnmaskList p;
  for (uint32_t s : r.survivors) p.add_survivors(s);
  for (uint32_t d : r.dropped) p.add_dropped(d);
  for (const SurvivorSignature& g : r.signatures) {
    v1::SecAggSurvivorSignature* q = p.add_signatures();
    q->set_from(g.from);
    q->set_signature(g.signature);
  }
  return p;
}

absl::StatusOr<UnmaskRequest> UnmaskRequestFromProto(const v1::SecAggUnmaskList& p) {
  UnmaskRequest r;
  FEDLOG_ASSIGN_OR_RETURN(r.survivors, IndexList(p.survivors(), "survivors"));
  FEDLOG_ASSIGN_OR_RETURN(r.dropped, IndexList(p.dropped(), "dropped sites"));
  if (p.signatures_size() > kMaxSites) return absl::InvalidArgumentError("too many survivor signatures");
  for (const auto& q : p.signatures()) {
    FEDLOG_RETURN_IF_ERROR(CheckIndex(q.from(), "survivor signature's signer"));
    FEDLOG_RETURN_IF_ERROR(CheckSignatureSize(q.signature(), "survivor signature"));
    r.signatures.push_back({q.from(), q.signature()});
  }
  return r;
}

v1::SecAggUnmaskRequest ConfirmationToProto(const SurvivorSignature& confirmation, const std::string& session_id) {
  v1::SecAggUnmaskRequest p;
  p.set_session_id(session_id);
  p.set_from(confirmation.from);
  p.set_survivors_signature(confirmation.signature);
  return p;
}

absl::StatusOr<SurvivorSignature> ConfirmationFromProto(const v1::SecAggUnmaskRequest& p) {
  FEDLOG_RETURN_IF_ERROR(CheckIndex(p.from(), "sender"));
  if (p.shares_size() > 0) return absl::InvalidArgumentError("a confirmation carries no shares");
  FEDLOG_RETURN_IF_ERROR(CheckSignatureSize(p.survivors_signature(), "survivors signature"));
  return SurvivorSignature{p.from(), p.survivors_signature()};
}

v1::SecAggUnmaskRequest UnmaskResponseToProto(const UnmaskResponse& r, const std::string& session_id) {
  v1::SecAggUnmaskRequest p;
  p.set_session_id(session_id);
  p.set_from(r.from);
  for (const RevealedShare& s : r.shares) {
    v1::SecAggRevealedShare* q = p.add_shares();
    q->set_owner(s.owner);
    q->set_kind(s.kind == ShareKind::kSelfMaskSeed ? v1::SecAggRevealedShare::SELF_MASK_SEED
                                                    : v1::SecAggRevealedShare::MASK_PRIVATE_KEY);
    q->set_x(s.share.x);
    for (uint64_t y : s.share.y) q->add_y(y);
  }
  return p;
}

absl::StatusOr<UnmaskResponse> UnmaskResponseFromProto(const v1::SecAggUnmaskRequest& p) {
  UnmaskResponse r;
  FEDLOG_RETURN_IF_ERROR(CheckIndex(p.from(), "sender"));
  r.from = p.from();
  if (p.shares_size() > kMaxSites) return absl::InvalidArgumentError("too many revealed shares");
  for (const auto& q : p.shares()) {
    RevealedShare s;
    FEDLOG_RETURN_IF_ERROR(CheckIndex(q.owner(), "share owner"));
    FEDLOG_RETURN_IF_ERROR(CheckIndex(q.x(), "share point"));
    s.owner = q.owner();
    switch (q.kind()) {
      case v1::SecAggRevealedShare::SELF_MASK_SEED: s.kind = ShareKind::kSelfMaskSeed; break;
      case v1::SecAggRevealedShare::MASK_PRIVATE_KEY: s.kind = ShareKind::kMaskPrivateKey; break;
      default: return absl::InvalidArgumentError("unknown share kind");
    }
    if (q.y_size() != static_cast<int>(s.share.y.size())) {
      return absl::InvalidArgumentError(absl::StrCat("a revealed share has ", q.y_size(), " values, not ",
                                                     s.share.y.size()));
    }
    s.share.x = q.x();
    for (int i = 0; i < q.y_size(); ++i) {
      if (q.y(i) >= kShamirPrime) return absl::InvalidArgumentError("a share value lies outside the field");
      s.share.y[static_cast<size_t>(i)] = q.y(i);
    }
    r.shares.push_back(std::move(s));
  }
  return r;
}

std::string EncodeLanes(absl::Span<const uint64_t> lanes) {
  std::string out;
  out.reserve(lanes.size() * 8);
  AppendLanes(lanes.data(), lanes.size(), &out);
  return out;
}

std::string EncodeLanes(absl::Span<const uint32_t> lanes) {
  std::string out;
  out.reserve(lanes.size() * 4);
  AppendLanes(lanes.data(), lanes.size(), &out);
  return out;
}

absl::StatusOr<std::vector<int64_t>> DecodeSignedLanes(absl::string_view bytes, uint64_t lanes, int lane_bits) {
  const uint64_t width = lane_bits == 32 ? 4 : lane_bits == 64 ? 8 : 0;
  if (width == 0 || lanes > kMaxVectorLength + 1 || bytes.size() != lanes * width) {
    return absl::InvalidArgumentError(absl::StrCat("masked input of ", bytes.size(), " bytes; ", lanes,
                                                   " lanes of ", lane_bits, " bits expected"));
  }
  std::vector<int64_t> out(lanes);
  for (uint64_t i = 0; i < lanes; ++i) {
    out[i] = width == 4 ? static_cast<int32_t>(LaneAt<uint32_t>(bytes, i))
                        : static_cast<int64_t>(LaneAt<uint64_t>(bytes, i));
  }
  return out;
}

}  // namespace fedlog::secagg
