// The site's side of a secure-aggregation round (docs/PRIVACY.md) over the federation protocol: advertise
// keys, fetch the roster, send encrypted shares, fetch the shares addressed to this site, upload the masked
// input through the ordinary UploadUpdate stream, fetch the unmask request and reveal what it allows. The
// protocol decisions (what to refuse, what to reveal) are secagg::SiteSession's; this file moves messages.
// A refusal by the session aborts the round for this site (its input then never enters a sum) and is marked as a
// refusal of what the aggregator sent (client/aggregator_checks.h), never as PermissionDenied.
// Thread-compatible: one call per round, from the daemon's round thread.
#ifndef FEDLOG_CLIENT_SECAGG_CLIENT_H_
#define FEDLOG_CLIENT_SECAGG_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/federation_session.h"
#include "common/fl/tensor_bundle.h"
#include "common/secagg/norm_bound.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/federation.pb.h"

namespace fedlog::client {

// The calls a site makes for secure aggregation; FederationSession's (SessionTransport) in the daemon, a
// relaying or forging one in tests.
class SecAggTransport {
 public:
  virtual ~SecAggTransport() = default;
  virtual absl::Status Advertise(const v1::SecAggAdvertiseRequest& request) = 0;
  virtual absl::Status ShareKeys(const v1::SecAggShareKeysRequest& request) = 0;
  virtual absl::Status UploadMasked(const v1::UpdateHeader& header, const std::string& bytes) = 0;
  virtual absl::StatusOr<v1::SecAggPollResponse> Poll(const v1::SecAggPollRequest& request) = 0;
  virtual absl::Status Unmask(const v1::SecAggUnmaskRequest& request) = 0;
};

// A transport over `session` (not owned; must outlive the transport).
std::unique_ptr<SecAggTransport> SessionTransport(FederationSession* session);

struct SecAggClientOptions {
  std::string site_id;          // this site's identity as the aggregator sees it (HelloResponse.site_id)
  int min_threshold = 2;        // refuse rounds whose threshold is lower
  int32_t poll_wait_ms = 5000;  // long-poll wait per SecAggPoll call
  int64_t max_wait_ms = 3600 * 1000;  // give up on a step that stays pending this long
  int64_t min_poll_interval_ms = 100; // at most one poll per this many ms while the aggregator says pending
  // State the update's norm with the keys in norm-bounded rounds (privacy_policy.h ReportsUpdateNorm).
  bool report_update_norm = true;
  // The site's mTLS private key and CA certificate (paths, PEM; the daemon's tls.key and tls.ca_cert): the site
  // signs its keys and the survivor set with the key and checks every roster certificate against the CA
  // (common/secagg/peer_auth.h). Required: a round without them is refused before anything is sent.
  std::string key_file;
  std::string ca_file;
};

// The update vector of `delta` for `task` (common/secagg/update_vector.h), built from the shared tensors of
// the round's model `global` and the round's adapter sections; the site fills the sections of its
// secagg.member_sources, and adapters of sources without a section are left out (they stay at the site).
// The round's kind sections (secagg.kind_sources) take `kind_counts` (common/secagg/kind_sections.h; pass
// none when MasksKindCounts is false: the sections are then zeros); counts of sources without a section stay
// at the site. `clipped` receives how many coordinates were clamped, `value_ranges` (when given) where the
// vector's values lie (common/secagg/norm_bound.h: what the round's norm bound covers). FailedPrecondition when
// its length differs from the round's secagg.vector_length, InvalidArgument for adapter or kind groups that do
// not validate (LayoutForRound).
absl::StatusOr<std::vector<float>> SecAggVector(const v1::RoundTask& task, const fl::TensorBundle& global,
                                                const fl::TensorBundle& delta, int64_t* clipped,
                                                const std::vector<v1::KindCounts>& kind_counts = {},
                                                std::vector<secagg::ValueRange>* value_ranges = nullptr);

// Whether this site fills the round's kind sections with its labelled lines' counts: a secure-aggregation
// round with kind sections, no DP mode (the accountant does not cover the counts), and a policy that sends
// label-derived statistics (upload_prototypes). Otherwise the sections are zeros.
bool MasksKindCounts(const v1::RoundTask& task, const v1::SitePrivacyPolicy& policy);

// The floats at the end of the round's vector that are masked with weight 1: its kind sections.
uint64_t UnitWeightLanes(const v1::RoundTask& task);

// Runs the five steps for `task` with input `x` and weight `weight` (clamped to the round's max_weight). The
// weight is stated with the keys, and the site masks the weight its roster gives it back (the aggregator's
// share cap, docs/rules/s25-weightcap.md), refusing one not in (0, weight]; the last UnitWeightLanes(task)
// values of x are masked with weight 1 (SiteSession::MaskInput).
// In a norm-bounded round (secagg.norm_bounded) the site states the norm of x's `value_ranges` with its keys
// (rounded up, norm_bound.h ReportedNorm; not when options.report_update_norm is false) and scales them to the
// roster's norm_bound before masking, refusing a bound that is negative or not finite. Without value ranges
// (tests that send a raw vector) nothing is stated or scaled.
// Against an aggregator that deviates actively (common/secagg/peer_auth.h): the site signs its keys, refuses a
// roster with an entry whose certificate does not chain to its CA, names another site or did not sign the
// entry's keys, signs the one survivor set it is asked to confirm, and reveals shares only for an unmask
// request with exactly that set and valid signatures of it from at least the threshold of its survivors.
// `header` carries run, round, base version, samples and loss; the masking fields are filled here.
absl::Status RunSecureAggregation(SecAggTransport* transport, const SecAggClientOptions& options,
                                  const v1::RoundTask& task, absl::Span<const float> x, double weight,
                                  v1::UpdateHeader header,
                                  const std::vector<secagg::ValueRange>& value_ranges = {});

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_SECAGG_CLIENT_H_
