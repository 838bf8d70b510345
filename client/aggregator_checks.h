// What a site checks in the messages its aggregator sends (docs/SECURITY.md, "The site against its aggregator").
// The aggregator may be broken, misconfigured or compromised, or a man in the middle may hold a CA-signed
// aggregator certificate: every number, list and tensor it sends is untrusted input to the site's daemon. These
// checks run before anything is allocated from, trained on or written to disk with what was received; a refusal
// is an InvalidArgument (DataLoss for a digest or size that does not match) naming the field and the value, and
// the daemon keeps its previous model and state (client/site_daemon.cc). Torch-free and gRPC-free. Thread-safe
// (stateless functions).
#ifndef FEDLOG_CLIENT_AGGREGATOR_CHECKS_H_
#define FEDLOG_CLIENT_AGGREGATOR_CHECKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/fl/plan_bounds.h"
#include "common/fl/tensor_bundle.h"
#include "fedlog/v1/federation.pb.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::client {

// ClientConfig.max_model_bytes (site.yaml): its default and the range it may take. The upper end is protobuf's
// limit on one parsed message (a serialized bundle is one).
inline constexpr int64_t kDefaultMaxModelBytes = int64_t{256} << 20;
inline constexpr int64_t kMinMaxModelBytes = int64_t{1} << 20;
inline constexpr int64_t kMaxMaxModelBytes = (int64_t{2} << 30) - 1;

// Bounds on the aggregator's timing numbers (HelloResponse). A long poll or heartbeat interval above an hour is
// not a setting but a fault: the site would hold a call, or stay silent, for longer than any round lasts.
inline constexpr int32_t kMaxAggregatorIntervalMs = 3600 * 1000;

// Bounds on a round plan's local work (TrainingPlan), the aggregator's run-start bounds too (common/fl/plan_bounds.h).
using fl::kMaxBatchSize;
using fl::kMaxInnerSteps;
using fl::kMaxLocalEpochs;
using fl::kMaxLocalSteps;

// HelloResponse: heartbeat_interval_ms and max_poll_wait_ms in [0, kMaxAggregatorIntervalMs].
absl::Status CheckHelloResponse(const v1::HelloResponse& response);

// A round task before the site acts on it: every float finite; run_id, model_version > 0, round >= 0;
// model_sha256 empty or 64 hex digits; the plan's counts within the bounds above and its rates, clips and
// deltas in their ranges; the DP numbers of the task in theirs; update_dtype one the codec knows; a
// secure-aggregation task carries its SecAggConfig (whose fields common/secagg/wire.h ConfigFromProto checks).
// The model spec, when present, is checked with CheckModelSpec.
absl::Status CheckRoundTask(const v1::RoundTask& task, int64_t max_model_bytes);

// The model spec's parameters can be held: a known arch (CreateSiteModel), every width positive and the float32
// size of the parameters its layers must have at least (embedding table and the products of adjacent widths)
// within max_model_bytes. Checked before the spec sizes anything (its initial weights, a trainer).
absl::Status CheckModelSpec(const v1::ModelSpec& spec, int64_t max_model_bytes);

// A download's manifest (the stream's first chunk): every float finite (metrics, kind counts); version as asked
// (when `requested` > 0) and positive;
// sha256 64 hex digits; size_bytes in [1, max_model_bytes]; its spec (CheckModelSpec); its kind counts each
// a valid sparse sketch (common/kinds/kind_sketch.h), one per source.
absl::Status CheckManifest(const v1::ModelManifest& manifest, int64_t requested, int64_t max_model_bytes);

// A decoded model against the site's schema for `spec` (its initial weights' shared tensors, names and shapes
// exactly, all present; optional tensors only as fl::ExpectedOptionalShape allows and adapters only of
// `sources`, the site's own), every value finite. Unknown optional tensors must have been dropped first
// (the daemon's IgnoreUnknownTensors).
absl::Status CheckDownloadedBundle(const v1::ModelSpec& spec, const fl::TensorBundle& bundle,
                                   const std::vector<std::string>& sources);

// A name or reason from the network, made safe to log: at most `max_length` bytes, non-printable bytes as '?'.
std::string LoggableText(const std::string& text, size_t max_length = 80);

// Marks `status` (not OK) as this site's refusal of something the aggregator sent, so that the daemon can count
// it (SiteDaemon::refused_from_aggregator) whatever call it surfaces from; its message is made printable. The
// checks above and FederationSession's return marked statuses. IsRefusal tells a marked status.
absl::Status Refusal(const absl::Status& status);
bool IsRefusal(const absl::Status& status);

}  // namespace fedlog::client

#endif  // FEDLOG_CLIENT_AGGREGATOR_CHECKS_H_
