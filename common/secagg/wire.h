// Conversions between common/secagg's message structs (messages.h) and their federation.proto form, in both
// directions. The From* functions take messages from the network: they check every size and number (key and
// ciphertext lengths, index ranges, counts, field elements) and return InvalidArgument rather than pass on
// anything the state machines would have to guess about. They never put secret bytes in a Status message.
// The site id is never read from a message: the caller passes the identity its transport authenticated.
// Thread-safe (pure functions).
#ifndef FEDLOG_COMMON_SECAGG_WIRE_H_
#define FEDLOG_COMMON_SECAGG_WIRE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/secagg/messages.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::secagg {

// The largest AES-GCM share ciphertext accepted (nonce + the fixed-size plaintext + tag is 124 bytes).
inline constexpr size_t kMaxShareCiphertextBytes = 512;

v1::SecAggConfig ConfigToProto(const RoundConfig& config);
// Also checks protocol_version == kProtocolVersion and ValidateRoundConfig.
absl::StatusOr<RoundConfig> ConfigFromProto(const v1::SecAggConfig& proto);

v1::SecAggAdvertiseRequest AdvertiseToProto(const AdvertiseKeys& keys, const std::string& session_id);
absl::StatusOr<AdvertiseKeys> AdvertiseFromProto(const v1::SecAggAdvertiseRequest& proto,
                                                 const std::string& authenticated_site_id);

// MaskedInput.complaints as UpdateHeader.secagg_complaints carries them (the masked input's upload header).
void ComplaintsToHeader(const MaskedInput& input, v1::UpdateHeader* header);
// Indices in 1..kMaxSites, at most kMaxSites; the session checks the rest (AggregatorSession::AddMaskedInput).
absl::StatusOr<std::vector<uint32_t>> ComplaintsFromHeader(const v1::UpdateHeader& header);

v1::SecAggRoster RosterToProto(const KeyRoster& roster);
absl::StatusOr<KeyRoster> RosterFromProto(const v1::SecAggRoster& proto);

v1::SecAggShareKeysRequest ShareKeysToProto(const ShareKeysMessage& message, const std::string& session_id);
absl::StatusOr<ShareKeysMessage> ShareKeysFromProto(const v1::SecAggShareKeysRequest& proto);

v1::SecAggShareDelivery DeliveryToProto(const ShareDelivery& delivery);
absl::StatusOr<ShareDelivery> DeliveryFromProto(const v1::SecAggShareDelivery& proto);

v1::SecAggUnmaskList UnmaskRequestToProto(const UnmaskRequest& request);
absl::StatusOr<UnmaskRequest> UnmaskRequestFromProto(const v1::SecAggUnmaskList& proto);

// The consistency step's confirmation (version 5) travels as a SecAggUnmaskRequest with survivors_signature
// set and no shares; IsConfirmation tells the two apart.
v1::SecAggUnmaskRequest ConfirmationToProto(const SurvivorSignature& confirmation, const std::string& session_id);
absl::StatusOr<SurvivorSignature> ConfirmationFromProto(const v1::SecAggUnmaskRequest& proto);
inline bool IsConfirmation(const v1::SecAggUnmaskRequest& proto) { return !proto.survivors_signature().empty(); }

v1::SecAggUnmaskRequest UnmaskResponseToProto(const UnmaskResponse& response, const std::string& session_id);
absl::StatusOr<UnmaskResponse> UnmaskResponseFromProto(const v1::SecAggUnmaskRequest& proto);

// Lanes as a masked input's upload bytes (little-endian, 8 or 4 bytes each; lanes.h). A site writes them in
// place while masking (site_session.cc) and the aggregator adds them into its sum from the bytes; these two
// are for tests and inspection.
std::string EncodeLanes(absl::Span<const uint64_t> lanes);
std::string EncodeLanes(absl::Span<const uint32_t> lanes);
// Each lane of `bytes` read as a two's-complement integer of its width (lane_bits 32 or 64): what an
// unmasked lane decodes to, and what an observer of a masked one sees. InvalidArgument unless `bytes` holds
// exactly `lanes` lanes.
absl::StatusOr<std::vector<int64_t>> DecodeSignedLanes(absl::string_view bytes, uint64_t lanes, int lane_bits);

}  // namespace fedlog::secagg

#endif  // FEDLOG_COMMON_SECAGG_WIRE_H_
