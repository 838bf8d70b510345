#include "client/federation_session.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"

namespace fedlog::client {
namespace {

void SetDeadline(grpc::ClientContext* ctx, int64_t ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

}  // namespace

FederationSession::FederationSession(std::shared_ptr<grpc::Channel> channel, int32_t chunk_bytes,
                                     int64_t max_model_bytes)
    : stub_(v1::Federation::NewStub(channel)), chunk_bytes_(chunk_bytes), max_model_bytes_(max_model_bytes) {}

bool FederationSession::Track(grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  active_.insert(ctx);
  return true;
}

void FederationSession::Untrack(grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);
  active_.erase(ctx);
}

void FederationSession::CancelAll() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::ClientContext* ctx : active_) ctx->TryCancel();
}

// Runs a unary call with cancellation tracking.
#define FEDLOG_UNARY_CALL(method, timeout_ms, req, resp)                              \
  grpc::ClientContext ctx;                                                            \
  SetDeadline(&ctx, timeout_ms);                                                      \
  if (!Track(&ctx)) return absl::CancelledError("session cancelled");                 \
  grpc::Status gst = stub_->method(&ctx, req, &resp);                                 \
  Untrack(&ctx);                                                                      \
  if (!gst.ok()) return net::FromGrpc(gst)

absl::StatusOr<v1::HelloResponse> FederationSession::Hello(const v1::HelloRequest& request) {
  v1::HelloResponse resp;
  FEDLOG_UNARY_CALL(Hello, 10000, request, resp);
  FEDLOG_RETURN_IF_ERROR(CheckHelloResponse(resp));
  return resp;
}

absl::StatusOr<v1::TaskResponse> FederationSession::GetTask(int32_t wait_ms) {
  v1::TaskRequest req;
  req.set_wait_ms(wait_ms);
  v1::TaskResponse resp;
  FEDLOG_UNARY_CALL(GetTask, int64_t{wait_ms} + 10000, req, resp);
  return resp;
}

absl::Status FederationSession::Heartbeat(const std::string& state) {
  v1::HeartbeatRequest req;
  req.set_state(state);
  v1::HeartbeatResponse resp;
  FEDLOG_UNARY_CALL(Heartbeat, 5000, req, resp);
  return absl::OkStatus();
}

absl::Status FederationSession::ReportEvaluation(const v1::EvaluationReport& report) {
  v1::EvaluationAck resp;
  FEDLOG_UNARY_CALL(ReportEvaluation, 10000, report, resp);
  return absl::OkStatus();
}

absl::Status FederationSession::SecAggAdvertise(const v1::SecAggAdvertiseRequest& request) {
  v1::SecAggAck resp;
  FEDLOG_UNARY_CALL(SecAggAdvertise, 30000, request, resp);
  return absl::OkStatus();
}

absl::Status FederationSession::SecAggShareKeys(const v1::SecAggShareKeysRequest& request) {
  v1::SecAggAck resp;
  FEDLOG_UNARY_CALL(SecAggShareKeys, 30000, request, resp);
  return absl::OkStatus();
}

absl::Status FederationSession::SecAggUnmask(const v1::SecAggUnmaskRequest& request) {
  v1::SecAggAck resp;
  FEDLOG_UNARY_CALL(SecAggUnmask, 30000, request, resp);
  return absl::OkStatus();
}

absl::StatusOr<v1::SecAggPollResponse> FederationSession::SecAggPoll(const v1::SecAggPollRequest& request) {
  v1::SecAggPollResponse resp;
  FEDLOG_UNARY_CALL(SecAggPoll, int64_t{request.wait_ms()} + 10000, request, resp);
  return resp;
}

absl::Status FederationSession::DeclineRound(int64_t run_id, int32_t round, const std::string& reason) {
  v1::DeclineRequest req;
  req.set_run_id(run_id);
  req.set_round(round);
  req.set_reason(reason);
  v1::DeclineResponse resp;
  FEDLOG_UNARY_CALL(DeclineRound, 10000, req, resp);
  return absl::OkStatus();
}

absl::StatusOr<DownloadedModel> FederationSession::Download(int64_t version, bool all_adapters) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30 * 60 * 1000);
  if (!Track(&ctx)) return absl::CancelledError("session cancelled");
  v1::DownloadRequest req;
  req.set_version(version);
  req.set_chunk_bytes(chunk_bytes_);
  req.set_all_adapters(all_adapters);
  auto reader = stub_->DownloadModel(&ctx, req);
  DownloadedModel out;
  std::string bytes;
  Sha256 digest;
  const absl::Status refusal = Refusal(ReadModelStream(reader.get(), version, &out.manifest, &bytes, &digest));
  if (!refusal.ok()) ctx.TryCancel();  // stop the stream at once: nothing more of it is read
  grpc::Status gst = reader->Finish();
  Untrack(&ctx);
  if (!refusal.ok()) return refusal;
  if (!gst.ok()) return net::FromGrpc(gst);
  // CheckManifest passed (version > 0) exactly when the stream carried a manifest.
  if (out.manifest.version() <= 0) return Refusal(absl::DataLossError("model stream carried no manifest"));
  if (static_cast<int64_t>(bytes.size()) != out.manifest.size_bytes()) {
    return Refusal(absl::DataLossError(absl::StrCat("model v", out.manifest.version(), " arrived with ",
                                                    bytes.size(), " bytes; its manifest states ",
                                                    out.manifest.size_bytes())));
  }
  if (digest.FinalHex() != absl::AsciiStrToLower(out.manifest.sha256())) {
    return Refusal(
        absl::DataLossError(absl::StrCat("model v", out.manifest.version(), " failed its sha256 check")));
  }
  out.bytes = static_cast<int64_t>(bytes.size());
  absl::StatusOr<fl::TensorBundle> bundle = fl::DecodeBundle(bytes, max_model_bytes_);
  if (!bundle.ok()) {
    return Refusal(absl::InvalidArgumentError(
        absl::StrCat("model v", out.manifest.version(), " does not decode: ", bundle.status().message())));
  }
  out.bundle = *std::move(bundle);
  return out;
}

absl::Status FederationSession::ReadModelStream(grpc::ClientReaderInterface<v1::ModelChunk>* reader,
                                                int64_t version, v1::ModelManifest* manifest, std::string* bytes,
                                                Sha256* digest) const {
  v1::ModelChunk chunk;
  bool first = true;
  while (reader->Read(&chunk)) {
    if (first) {
      if (!chunk.has_manifest()) return absl::InvalidArgumentError("the model stream began without its manifest");
      *manifest = chunk.manifest();
      FEDLOG_RETURN_IF_ERROR(CheckManifest(*manifest, version, max_model_bytes_));
      bytes->reserve(static_cast<size_t>(manifest->size_bytes()));  // at most max_model_bytes_: checked
      first = false;
    } else if (chunk.has_manifest()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the stream of model v", manifest->version(), " carried a second manifest"));
    }
    if (static_cast<int64_t>(bytes->size() + chunk.data().size()) > manifest->size_bytes()) {
      return absl::DataLossError(absl::StrCat("the stream of model v", manifest->version(),
                                              " carried more than the ", manifest->size_bytes(),
                                              " bytes its manifest states"));
    }
    digest->Update(chunk.data());
    bytes->append(chunk.data());
  }
  return absl::OkStatus();  // no chunk at all: the caller reads the call's status first
}

absl::Status FederationSession::Upload(v1::UpdateHeader header, const std::string& bytes) {
  header.set_size_bytes(static_cast<int64_t>(bytes.size()));
  header.set_sha256(Sha256Hex(bytes));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30 * 60 * 1000);
  if (!Track(&ctx)) return absl::CancelledError("session cancelled");
  v1::UploadResponse resp;
  auto writer = stub_->UploadUpdate(&ctx, &resp);
  v1::UpdateChunk first;
  *first.mutable_header() = header;
  bool ok = writer->Write(first);
  const size_t chunk = static_cast<size_t>(chunk_bytes_);
  for (size_t off = 0; ok && off < bytes.size(); off += chunk) {
    v1::UpdateChunk c;
    c.set_data(bytes.substr(off, chunk));
    ok = writer->Write(c);
  }
  writer->WritesDone();
  grpc::Status gst = writer->Finish();
  Untrack(&ctx);
  if (!gst.ok()) return net::FromGrpc(gst);
  if (!resp.accepted()) {
    return absl::AbortedError(absl::StrCat("update refused: ", LoggableText(resp.reason(), 256)));
  }
  return absl::OkStatus();
}

}  // namespace fedlog::client
