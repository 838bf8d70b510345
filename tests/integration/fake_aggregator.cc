#include "tests/integration/fake_aggregator.h"

#include <algorithm>

#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/model/site_model.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"

namespace fedlog::testing {
namespace {

constexpr size_t kEndlessChunk = 64 << 10;
constexpr int64_t kEndlessLimit = int64_t{1} << 30;

}  // namespace

std::vector<v1::ModelChunk> ModelChunks(const v1::ModelManifest& manifest, const std::string& bytes,
                                        size_t chunk_bytes) {
  std::vector<v1::ModelChunk> out(1);
  *out[0].mutable_manifest() = manifest;
  for (size_t off = 0; off < bytes.size(); off += chunk_bytes) {
    out.emplace_back().set_data(bytes.substr(off, chunk_bytes));
  }
  return out;
}

FakeModel MakeFakeModel(const v1::ModelSpec& spec, int64_t version,
                        const std::function<void(fl::TensorBundle*)>& edit) {
  FakeModel m;
  absl::StatusOr<std::unique_ptr<model::SiteModel>> site_model = model::CreateSiteModel(spec);
  EXPECT_TRUE(site_model.ok()) << site_model.status();
  if (!site_model.ok()) return m;
  absl::StatusOr<fl::TensorBundle> weights = (*site_model)->InitialWeights();
  EXPECT_TRUE(weights.ok()) << weights.status();
  if (!weights.ok()) return m;
  if (edit) edit(&*weights);
  absl::StatusOr<std::string> bytes = fl::EncodeBundle(*weights);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  m.bytes = bytes.value_or("");
  m.manifest.set_version(version);
  m.manifest.set_strategy("init");
  m.manifest.set_sha256(Sha256Hex(m.bytes));
  m.manifest.set_size_bytes(static_cast<int64_t>(m.bytes.size()));
  *m.manifest.mutable_spec() = spec;
  return m;
}

std::unique_ptr<FakeAggregator> FakeAggregator::Start(const std::string& pki) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = net::MakeServerCredentials(
      {JoinPath(pki, "ca.crt"), JoinPath(pki, "aggregator.crt"), JoinPath(pki, "aggregator.key")});
  if (!creds.ok()) {
    ADD_FAILURE() << "fake aggregator credentials: " << creds.status();
    return nullptr;
  }
  std::unique_ptr<FakeAggregator> fake(new FakeAggregator());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *creds, &fake->port_);
  builder.RegisterService(fake.get());
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  fake->server_ = builder.BuildAndStart();
  if (fake->server_ == nullptr || fake->port_ == 0) {
    ADD_FAILURE() << "fake aggregator did not start";
    return nullptr;
  }
  return fake;
}

FakeAggregator::~FakeAggregator() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

void FakeAggregator::SetHello(const v1::HelloResponse& hello) {
  absl::MutexLock lock(&mu_);
  hello_ = hello;
}

void FakeAggregator::SetTask(const v1::TaskResponse& task) {
  absl::MutexLock lock(&mu_);
  task_ = task;
}

void FakeAggregator::SetModel(std::vector<v1::ModelChunk> chunks, bool endless) {
  absl::MutexLock lock(&mu_);
  chunks_ = std::move(chunks);
  endless_ = endless;
}

void FakeAggregator::SetPoll(v1::SecAggPollRequest::Step step, const v1::SecAggPollResponse& response) {
  absl::MutexLock lock(&mu_);
  polls_by_step_[step] = response;
}

grpc::Status FakeAggregator::Hello(grpc::ServerContext*, const v1::HelloRequest*, v1::HelloResponse* resp) {
  absl::MutexLock lock(&mu_);
  *resp = hello_;
  return grpc::Status::OK;
}

grpc::Status FakeAggregator::GetTask(grpc::ServerContext*, const v1::TaskRequest*, v1::TaskResponse* resp) {
  absl::MutexLock lock(&mu_);
  *resp = task_;
  return grpc::Status::OK;
}

grpc::Status FakeAggregator::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                                       v1::HeartbeatResponse*) {
  return grpc::Status::OK;
}

grpc::Status FakeAggregator::DownloadModel(grpc::ServerContext* ctx, const v1::DownloadRequest*,
                                           grpc::ServerWriter<v1::ModelChunk>* writer) {
  ++downloads_;
  std::vector<v1::ModelChunk> chunks;
  bool endless;
  {
    absl::MutexLock lock(&mu_);
    chunks = chunks_;
    endless = endless_;
  }
  if (chunks.empty() && !endless) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such model version");
  for (const v1::ModelChunk& c : chunks) {
    if (!writer->Write(c)) return grpc::Status::CANCELLED;
    bytes_streamed_ += static_cast<int64_t>(c.data().size());
  }
  if (!endless) return grpc::Status::OK;
  v1::ModelChunk more;
  more.set_data(std::string(kEndlessChunk, 'x'));
  while (!ctx->IsCancelled() && bytes_streamed_.load() < kEndlessLimit) {
    if (!writer->Write(more)) break;
    bytes_streamed_ += static_cast<int64_t>(kEndlessChunk);
  }
  return grpc::Status::CANCELLED;
}

grpc::Status FakeAggregator::ReportEvaluation(grpc::ServerContext*, const v1::EvaluationReport*,
                                              v1::EvaluationAck*) {
  return grpc::Status::OK;
}

grpc::Status FakeAggregator::SecAggAdvertise(grpc::ServerContext*, const v1::SecAggAdvertiseRequest*,
                                             v1::SecAggAck*) {
  return grpc::Status::OK;
}

grpc::Status FakeAggregator::SecAggPoll(grpc::ServerContext*, const v1::SecAggPollRequest* req,
                                        v1::SecAggPollResponse* resp) {
  ++polls_;
  absl::MutexLock lock(&mu_);
  auto it = polls_by_step_.find(req->step());
  if (it == polls_by_step_.end()) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not scripted");
  *resp = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeAggregator::DeclineRound(grpc::ServerContext*, const v1::DeclineRequest*, v1::DeclineResponse*) {
  return grpc::Status::OK;
}

}  // namespace fedlog::testing
