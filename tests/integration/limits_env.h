// The fixture and hand-driven peers of the limits tests (limits_test.cc: downloads, stalls and revocation;
// limits_upload_test.cc: uploads, spool and download variants on disk): one bad site must not starve, outlast
// or overwrite the others. Real mTLS on loopback.
#ifndef FEDLOG_TESTS_INTEGRATION_LIMITS_ENV_H_
#define FEDLOG_TESTS_INTEGRATION_LIMITS_ENV_H_

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog::testing {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Sets ServerConfig.limits.<name> by reflection, so the same test source builds against a tree that predates
// the limits (there it sets nothing and the test shows what that tree does).
inline void SetLimit(v1::ServerConfig* c, const std::string& name, int64_t v) {
  const auto* limits_field = c->GetDescriptor()->FindFieldByName("limits");
  if (limits_field == nullptr) return;
  google::protobuf::Message* limits = c->GetReflection()->MutableMessage(c, limits_field);
  const auto* f = limits->GetDescriptor()->FindFieldByName(name);
  ASSERT_NE(f, nullptr) << name;
  if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64) {
    limits->GetReflection()->SetInt64(limits, f, v);
  } else {
    limits->GetReflection()->SetInt32(limits, f, static_cast<int32_t>(v));
  }
}

// A channel that reads only what the test asks for: no BDP probing (the receive window stays at 64 KiB) and
// its own connection, so a stalled stream backs up to the aggregator's Write.
inline std::shared_ptr<grpc::Channel> StallingChannel(const std::string& pki, const std::string& name, int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  auto creds = net::MakeChannelCredentials(
      {JoinPath(pki, "ca.crt"), JoinPath(pki, name + ".crt"), JoinPath(pki, name + ".key")});
  return grpc::CreateCustomChannel(absl::StrCat("localhost:", port), *creds, args);
}

inline void Deadline(grpc::ClientContext* ctx, int ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

struct Download {
  grpc::Status status;
  v1::ModelManifest manifest;
  std::string bytes;
  std::vector<size_t> chunk_sizes;
};

// A download with a deadline (the session's is 30 minutes: a starved download must fail the test, not hang it).
inline Download DownloadWithin(v1::Federation::Stub* stub, int64_t version, int ms, int32_t chunk_bytes = 0) {
  grpc::ClientContext ctx;
  Deadline(&ctx, ms);
  v1::DownloadRequest req;
  req.set_version(version);
  req.set_chunk_bytes(chunk_bytes);
  auto reader = stub->DownloadModel(&ctx, req);
  Download d;
  v1::ModelChunk c;
  bool first = true;
  while (reader->Read(&c)) {
    if (first) d.manifest = c.manifest();
    if (!first) d.chunk_sizes.push_back(c.data().size());
    first = false;
    d.bytes += c.data();
  }
  d.status = reader->Finish();
  return d;
}

// A site driven by hand (HandSite) with a stub of its own for raw streams.
struct RawSite : HandSite {
  RawSite(const std::string& pki, const std::string& name, int port)
      : HandSite(pki, name, port), stub(SiteStub(pki, name, port)) {}
  std::unique_ptr<v1::Federation::Stub> stub;
};

// The header of a raw upload of `bytes` for `task` (HandSite::Header with the size and digest a stream needs).
inline v1::UpdateHeader SizedHeader(const v1::RoundTask& task, const std::string& bytes) {
  v1::UpdateHeader h = HandSite::Header(task);
  h.set_size_bytes(static_cast<int64_t>(bytes.size()));
  h.set_sha256(Sha256Hex(bytes));
  return h;
}

// An upload stream held open by the test.
struct OpenUpload {
  explicit OpenUpload(v1::Federation::Stub* stub, int deadline_ms = 20000) {
    Deadline(&ctx, deadline_ms);
    writer = stub->UploadUpdate(&ctx, &resp);
  }
  bool Header(const v1::UpdateHeader& h) {
    v1::UpdateChunk c;
    *c.mutable_header() = h;
    return writer->Write(c);
  }
  bool Data(const std::string& bytes) {
    v1::UpdateChunk c;
    c.set_data(bytes);
    return writer->Write(c);
  }
  grpc::Status Close() {
    writer->WritesDone();
    return writer->Finish();
  }
  grpc::ClientContext ctx;
  v1::UploadResponse resp;
  std::unique_ptr<grpc::ClientWriter<v1::UpdateChunk>> writer;
};

inline int ThreadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.' ? 1 : 0;
    closedir(d);
  }
  return n;
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("fedlog_limits");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(MakePki(pki_, {"site-a", "site-b", "bad"}));
    config_ = ServerConfigFor(pki_, JoinPath(dir_, "agg"));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  // A model of about 10 MB, larger than every flow-control window, so a peer that stops reading stalls the
  // aggregator's writes.
  void BigModel() {
    config_.mutable_model()->set_input_dim(20000);
    config_.mutable_model()->clear_hidden();
    config_.mutable_model()->add_hidden(64);
    config_.mutable_model()->add_hidden(16);
  }
  void StartServer() {
    auto s = server::AggregatorServer::Start(config_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  int port() const { return server_->port(); }
  v1::RunStatus StartRun(int min_sites, int deadline_s = 60) {
    v1::StartRunRequest req;
    req.mutable_plan()->set_rounds(1);
    req.mutable_plan()->set_min_sites(min_sites);
    req.mutable_plan()->set_round_deadline_s(deadline_s);
    v1::RunStatus resp;
    grpc::ClientContext ctx;
    grpc::Status st = AdminStub(pki_, port())->StartRun(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }
  v1::RunStatus WaitDone(int64_t run_id, int polls = 300) {
    auto stub = AdminStub(pki_, port());
    v1::RunStatus s;
    for (int i = 0; i < polls; ++i) {
      grpc::ClientContext ctx;
      v1::GetRunRequest req;
      req.set_run_id(run_id);
      if (stub->GetRun(&ctx, req, &s).ok() && s.state() == "done") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return s;
  }
  void Revoke(const std::string& site) {
    grpc::ClientContext ctx;
    v1::RevokeSiteRequest req;
    req.set_site_id(site);
    v1::SiteInfo info;
    ASSERT_TRUE(AdminStub(pki_, port())->RevokeSite(&ctx, req, &info).ok());
  }
  // Files under the aggregator's data directory whose name contains `part`.
  std::vector<std::string> FilesNamed(const std::string& part) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(JoinPath(dir_, "agg"), ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() && absl::StrContains(it->path().filename().string(), part)) {
        out.push_back(it->path().string());
      }
    }
    return out;
  }
  // One round of an honest site alone: task, download, upload, round done. Returns its seconds.
  double HonestRound(RawSite* site) {
    v1::RunStatus run = StartRun(1);
    v1::RoundTask task = site->WaitTask();
    const Clock::time_point t0 = Clock::now();
    Download d = DownloadWithin(site->stub.get(), task.model_version(), 10000);
    EXPECT_TRUE(d.status.ok()) << d.status.error_message();
    if (!d.status.ok()) return 1e9;
    auto model = fl::DecodeBundle(d.bytes);
    EXPECT_TRUE(model.ok());
    EXPECT_TRUE(site->Upload(task, Filled(*model, 0.0f)).ok());
    EXPECT_EQ(WaitDone(run.run_id(), 1000).state(), "done");
    return SecondsSince(t0);
  }

  std::string dir_, pki_;
  v1::ServerConfig config_;
  std::unique_ptr<server::AggregatorServer> server_;
};

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace fedlog::testing

#endif  // FEDLOG_TESTS_INTEGRATION_LIMITS_ENV_H_
