// One bad site must not starve, outlast or overwrite the others (issue 16, findings 3-7 and the path half of 9):
// stalled downloads and uploads hold at most their site's share and end when idle, at their round's deadline or
// when the site is revoked; concurrent uploads of one site never replace an accepted update; spool, chunk and
// download-variant disk use stay bounded; no file is named after a site. Real mTLS on loopback.
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Sets ServerConfig.limits.<name> by reflection, so the same test source builds against a tree that predates
// the limits (there it sets nothing and the test shows what that tree does).
void SetLimit(v1::ServerConfig* c, const std::string& name, int64_t v) {
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
std::shared_ptr<grpc::Channel> StallingChannel(const std::string& pki, const std::string& name, int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  auto creds = net::MakeChannelCredentials(
      {JoinPath(pki, "ca.crt"), JoinPath(pki, name + ".crt"), JoinPath(pki, name + ".key")});
  return grpc::CreateCustomChannel(absl::StrCat("localhost:", port), *creds, args);
}

void Deadline(grpc::ClientContext* ctx, int ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

fl::TensorBundle Filled(const fl::TensorBundle& like, float v) {
  fl::TensorBundle b = like;
  for (auto& t : b.tensors) std::fill(t.values.begin(), t.values.end(), v);
  return b;
}

struct Download {
  grpc::Status status;
  v1::ModelManifest manifest;
  std::string bytes;
  std::vector<size_t> chunk_sizes;
};

// A download with a deadline (the session's is 30 minutes: a starved download must fail the test, not hang it).
Download DownloadWithin(v1::Federation::Stub* stub, int64_t version, int ms, int32_t chunk_bytes = 0) {
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

// A site driven by hand.
struct RawSite {
  RawSite(const std::string& pki, const std::string& name, int port)
      : stub(testing::SiteStub(pki, name, port)),
        session(testing::SiteChannel(pki, name, port)) {
    v1::HelloRequest hello;
    hello.add_sources()->set_name("HDFS");
    EXPECT_TRUE(session.Hello(hello).ok());
  }
  v1::RoundTask WaitTask() { return testing::WaitRoundTask(&session); }
  static v1::UpdateHeader Header(const v1::RoundTask& task, const std::string& bytes) {
    v1::UpdateHeader h;
    h.set_run_id(task.run_id());
    h.set_round(task.round());
    h.set_base_version(task.model_version());
    h.set_num_samples(100);
    h.set_size_bytes(static_cast<int64_t>(bytes.size()));
    h.set_sha256(Sha256Hex(bytes));
    return h;
  }
  absl::Status Upload(const v1::RoundTask& task, const fl::TensorBundle& delta) {
    auto bytes = fl::EncodeBundle(delta);
    if (!bytes.ok()) return bytes.status();
    return session.Upload(Header(task, *bytes), *bytes);
  }
  std::unique_ptr<v1::Federation::Stub> stub;
  client::FederationSession session;
};

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

int ThreadCount() {
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
    dir_ = testing::MakeTempDir("fedlog_limits");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "bad"}));
    config_ = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
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
    grpc::Status st = testing::AdminStub(pki_, port())->StartRun(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }
  v1::RunStatus WaitDone(int64_t run_id, int polls = 300) {
    auto stub = testing::AdminStub(pki_, port());
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
    ASSERT_TRUE(testing::AdminStub(pki_, port())->RevokeSite(&ctx, req, &info).ok());
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

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Finding 3: a site that opens downloads and stops reading holds at most its own share of the download slots;
// with it holding stalled downloads and uploads, an honest site's round takes at most twice its normal time.
TEST_F(LimitsTest, StalledStreamsOfOneSiteDoNotSlowAnHonestRound) {
  BigModel();
  config_.set_site_timeout_ms(1000);  // the bad site drops out of the rounds it does not poll for
  StartServer();
  RawSite honest(pki_, "site-a", port());
  std::vector<double> normal;
  for (int i = 0; i < 3; ++i) normal.push_back(HonestRound(&honest));

  // Four downloads that are never read (as many as the aggregator sends at once) and uploads that send nothing.
  auto bad = v1::Federation::NewStub(StallingChannel(pki_, "bad", port()));
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::ModelChunk>>> downloads;
  for (int i = 0; i < 4; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    Deadline(ctxs.back().get(), 60000);
    v1::DownloadRequest req;
    downloads.push_back(bad->DownloadModel(ctxs.back().get(), req));
  }
  std::vector<std::unique_ptr<OpenUpload>> uploads;
  for (int i = 0; i < 3; ++i) uploads.push_back(std::make_unique<OpenUpload>(bad.get(), 60000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // writes back up; the bad site goes offline

  std::vector<double> attacked;
  for (int i = 0; i < 3; ++i) attacked.push_back(HonestRound(&honest));
  const double base = Median(normal), slow = Median(attacked);
  std::printf("honest round: %.3f s normally, %.3f s with a site holding stalled streams\n", base, slow);
  EXPECT_LE(slow, 2 * base) << "normal rounds " << normal[0] << ", " << normal[1] << ", " << normal[2];

  // Beyond its share the bad site was refused at once.
  int refused = 0;
  for (size_t i = 0; i < downloads.size(); ++i) {
    v1::ModelChunk c;
    if (downloads[i]->Read(&c)) ctxs[i]->TryCancel();  // a stalled one: it still had data to send
    grpc::Status st = downloads[i]->Finish();
    refused += st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? 1 : 0;
  }
  EXPECT_EQ(refused, 2);
  for (auto& u : uploads) u->ctx.TryCancel();
  for (auto& u : uploads) u->writer->Finish().IgnoreError();
}

// Finding 3: chunk sizes below the minimum are raised for downloads and refused for uploads.
TEST_F(LimitsTest, TinyChunksAreRaisedOrRefused) {
  SetLimit(&config_, "min_chunk_bytes", 1024);
  StartServer();
  RawSite a(pki_, "site-a", port());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask task = a.WaitTask();
  Download d = DownloadWithin(a.stub.get(), task.model_version(), 10000, /*chunk_bytes=*/1);
  ASSERT_TRUE(d.status.ok()) << d.status.error_message();
  ASSERT_GT(d.bytes.size(), 2048u);
  int small = 0;
  for (size_t i = 0; i + 1 < d.chunk_sizes.size(); ++i) small += d.chunk_sizes[i] < 1024 ? 1 : 0;
  EXPECT_EQ(small, 0) << "of " << d.chunk_sizes.size() << " chunks";

  auto model = fl::DecodeBundle(d.bytes);
  ASSERT_TRUE(model.ok());
  const std::string bytes = *fl::EncodeBundle(Filled(*model, 0.0f));
  OpenUpload up(a.stub.get());
  ASSERT_TRUE(up.Header(RawSite::Header(task, bytes)));
  for (size_t i = 0; i < 64 && up.Data(bytes.substr(i, 1)); ++i) {
  }
  grpc::Status st = up.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("below the minimum"), std::string::npos) << st.error_message();
  ASSERT_TRUE(a.Upload(task, Filled(*model, 0.0f)).ok());  // normal chunks still go through
  EXPECT_EQ(WaitDone(run.run_id()).state(), "done");
}

// Finding 4: revoking a site ends its live streams at once and frees their slots: a stalled download of it
// stops sending, its upload in flight is not accepted, and a download that waited for its slots proceeds.
TEST_F(LimitsTest, RevocationEndsLiveStreamsAndFreesTheirSlots) {
  BigModel();
  config_.set_max_concurrent_downloads(2);
  StartServer();
  RawSite honest(pki_, "site-a", port());
  auto bad = v1::Federation::NewStub(StallingChannel(pki_, "bad", port()));
  RawSite bad_site(pki_, "bad", port());
  ASSERT_TRUE(honest.session.GetTask(0).ok());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask ta = honest.WaitTask(), tb = bad_site.WaitTask();
  Download base = DownloadWithin(honest.stub.get(), ta.model_version(), 20000);
  ASSERT_TRUE(base.status.ok());
  auto model = fl::DecodeBundle(base.bytes);
  ASSERT_TRUE(model.ok());

  // The bad site: two downloads that read the manifest and stop (every send slot), and half an upload of a
  // poisoned update.
  grpc::ClientContext d1, d2;
  Deadline(&d1, 30000);
  Deadline(&d2, 30000);
  auto r1 = bad->DownloadModel(&d1, {}), r2 = bad->DownloadModel(&d2, {});
  v1::ModelChunk chunk;
  ASSERT_TRUE(r1->Read(&chunk) && r2->Read(&chunk));
  const std::string poison = *fl::EncodeBundle(Filled(*model, 100.0f));
  OpenUpload up(bad.get());
  ASSERT_TRUE(up.Header(RawSite::Header(tb, poison)));
  ASSERT_TRUE(up.Data(poison.substr(0, poison.size() / 2)));

  // An honest download now waits for a slot.
  Clock::time_point done_at;
  Download waited;
  std::thread t([&] {
    waited = DownloadWithin(honest.stub.get(), ta.model_version(), 8000);
    done_at = Clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  const Clock::time_point revoked_at = Clock::now();
  Revoke("bad");
  t.join();
  EXPECT_TRUE(waited.status.ok()) << waited.status.error_message();
  EXPECT_LT(std::chrono::duration<double>(done_at - revoked_at).count(), 1.5);

  // The revoked site's streams are over: reading on gets no more of the model, the rest of its upload is not
  // accepted.
  std::string rest;
  while (r1->Read(&chunk)) rest += chunk.data();
  EXPECT_FALSE(r1->Finish().ok());
  EXPECT_LT(rest.size(), base.bytes.size());
  d2.TryCancel();
  r2->Finish().IgnoreError();
  up.Data(poison.substr(poison.size() / 2));
  grpc::Status st = up.Close();
  EXPECT_FALSE(st.ok() && up.resp.accepted());

  ASSERT_TRUE(honest.Upload(ta, Filled(*model, 0.001f)).ok());
  ASSERT_EQ(WaitDone(run.run_id(), 1000).state(), "done");
  Download next = DownloadWithin(honest.stub.get(), 0, 20000);
  ASSERT_TRUE(next.status.ok());
  auto next_model = fl::DecodeBundle(next.bytes);
  ASSERT_TRUE(next_model.ok());
  EXPECT_NEAR(next_model->tensors[0].values[0], model->tensors[0].values[0] + 0.001f, 1e-5);
}

// Finding 5 (and the path half of 9): with two uploads of one site in flight (the per-site cap raised to two
// to reach the storage race), the refused one never touches the accepted one, and no file is named after a site.
TEST_F(LimitsTest, ARefusedConcurrentUploadNeverReplacesTheAcceptedOne) {
  SetLimit(&config_, "max_uploads_per_site", 2);
  StartServer();
  RawSite a(pki_, "site-a", port()), b(pki_, "site-b", port());
  v1::RunStatus run = StartRun(2);
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask();
  auto model = a.session.Download(ta.model_version());
  ASSERT_TRUE(model.ok());

  const std::string poison = *fl::EncodeBundle(Filled(model->bundle, 100.0f));
  OpenUpload held(a.stub.get());
  ASSERT_TRUE(held.Header(RawSite::Header(ta, poison)));
  ASSERT_TRUE(held.Data(poison));  // every byte sent; the stream is not closed yet
  const std::string incoming = JoinPath(JoinPath(dir_, "agg"), "updates/incoming");
  bool spooling = false;
  for (int i = 0; i < 200 && !spooling; ++i) {
    std::error_code ec;
    spooling = !std::filesystem::is_empty(incoming, ec);
    if (!spooling) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(spooling);
  EXPECT_TRUE(FilesNamed("site-a").empty()) << "a spool file is named after the site: " << FilesNamed("site-a")[0];

  ASSERT_TRUE(a.Upload(ta, Filled(model->bundle, 0.001f)).ok());
  grpc::Status st = held.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS) << st.error_message();
  ASSERT_TRUE(b.Upload(tb, Filled(model->bundle, 0.003f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(done.rounds(0).sites(), 2);
  auto next = a.session.Download(0);
  ASSERT_TRUE(next.ok());
  EXPECT_NEAR(next->bundle.tensors[0].values[0], model->bundle.tensors[0].values[0] + 0.002f, 1e-6);
  EXPECT_TRUE(FilesNamed("site-").empty()) << "a stored file is named after a site: " << FilesNamed("site-")[0];
  EXPECT_TRUE(FilesNamed(".part").empty());
}

// Finding 6: one upload at a time per site (a second is refused at once, before it costs a thread for long),
// an upload that sends nothing ends after the idle timeout, and the spool quota refuses what does not fit.
TEST_F(LimitsTest, UploadsArePerSiteCappedAndIdleOnesEnd) {
  SetLimit(&config_, "stream_idle_timeout_s", 1);
  StartServer();
  RawSite a(pki_, "site-a", port());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask ta = a.WaitTask();
  auto model = a.session.Download(ta.model_version());
  ASSERT_TRUE(model.ok());
  const std::string bytes = *fl::EncodeBundle(Filled(model->bundle, 0.001f));

  const int threads_before = ThreadCount();
  const Clock::time_point opened = Clock::now();
  auto idle = std::make_unique<OpenUpload>(a.stub.get(), 8000);
  ASSERT_TRUE(idle->Header(RawSite::Header(ta, bytes)));
  // The aggregator holds it once it spools it.
  const std::string incoming = JoinPath(JoinPath(dir_, "agg"), "updates/incoming");
  std::error_code ec;
  for (int i = 0; i < 200 && std::filesystem::is_empty(incoming, ec); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(std::filesystem::is_empty(incoming, ec));
  std::vector<std::unique_ptr<OpenUpload>> more;
  for (int i = 0; i < 30; ++i) {
    more.push_back(std::make_unique<OpenUpload>(a.stub.get(), 8000));
    more.back()->Header(RawSite::Header(ta, bytes));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int threads_during = ThreadCount();
  int exhausted = 0;
  for (auto& u : more) {
    exhausted += u->writer->Finish().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? 1 : 0;
  }
  EXPECT_EQ(exhausted, 30);
  EXPECT_LT(threads_during - threads_before, 15) << "threads: " << threads_before << " -> " << threads_during;

  grpc::Status st = idle->writer->Finish();  // no WritesDone: only the aggregator can end it before 8 s
  const double lasted = SecondsSince(opened);
  EXPECT_FALSE(st.ok());
  EXPECT_LT(lasted, 4.0) << "an idle upload lasted " << lasted << " s";
  idle.reset();

  // The site sees its stream end a moment before the aggregator's handler lets go of the slot: a retry may be
  // refused as busy (the daemon backs off) until then.
  absl::Status st2 = absl::ResourceExhaustedError("not tried");
  for (int i = 0; i < 20 && absl::IsResourceExhausted(st2); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st2 = a.Upload(ta, Filled(model->bundle, 0.001f));
  }
  ASSERT_TRUE(st2.ok()) << st2;
  EXPECT_EQ(WaitDone(run.run_id()).state(), "done");
}

TEST_F(LimitsTest, SpoolQuotaRefusesWhatDoesNotFit) {
  SetLimit(&config_, "max_spool_bytes_per_site", 1000);
  StartServer();
  RawSite a(pki_, "site-a", port());
  StartRun(1);
  v1::RoundTask ta = a.WaitTask();
  auto model = a.session.Download(ta.model_version());
  ASSERT_TRUE(model.ok());
  absl::Status st = a.Upload(ta, Filled(model->bundle, 0.001f));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_TRUE(FilesNamed(".part").empty());
}

// Finding 6: an upload trickling chunks (never idle) is ended at its round's deadline.
TEST_F(LimitsTest, AnUploadNeverOutlivesItsRound) {
  StartServer();
  RawSite a(pki_, "site-a", port());
  StartRun(1, /*deadline_s=*/2);
  v1::RoundTask ta = a.WaitTask();
  const std::string bytes(8 << 20, 'x');
  OpenUpload up(a.stub.get(), 15000);
  ASSERT_TRUE(up.Header(RawSite::Header(ta, bytes)));
  const auto deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(ta.deadline_ms()));
  bool ended = false;
  size_t off = 0;
  while (std::chrono::system_clock::now() < deadline + std::chrono::seconds(3) && off < bytes.size()) {
    if (!up.Data(bytes.substr(off, 1 << 16))) {
      ended = true;
      break;
    }
    off += 1 << 16;
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  const auto stopped = std::chrono::system_clock::now();
  EXPECT_TRUE(ended) << "the upload was still open 3 s after its round's deadline";
  EXPECT_LT(std::chrono::duration<double>(stopped - deadline).count(), 1.5);
  up.ctx.TryCancel();
  up.writer->Finish().IgnoreError();
}

// Finding 7: declaring a new source set per Hello no longer leaves a model-sized file per set: variants are a
// bounded cache whose evicted files are deleted, and every download still matches its manifest.
TEST_F(LimitsTest, DownloadVariantsStayBoundedOnDisk) {
  constexpr int kOut = 8, kAdapter = 4;
  SetLimit(&config_, "max_download_variants", 3);
  ASSERT_TRUE(testing::UseTinyLineEncoder(&config_, kOut, kAdapter));
  StartServer();
  RawSite a(pki_, "site-a", port());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask ta = a.WaitTask();
  auto m = a.session.Download(ta.model_version());
  ASSERT_TRUE(m.ok()) << m.status();
  fl::TensorBundle d = Filled(m->bundle, 0.0f);
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    fl::NamedTensor t{name, std::move(shape), {}};
    t.values.assign(static_cast<size_t>(t.NumElements()), 0.5f);
    d.tensors.push_back(std::move(t));
  };
  add("adapter.HDFS.down.weight", {kAdapter, kOut});
  add("adapter.HDFS.down.bias", {kAdapter});
  add("adapter.HDFS.up.weight", {kOut, kAdapter});
  add("adapter.HDFS.up.bias", {kOut});
  add("adapter.HDFS.prototypes", {2, kOut});
  ASSERT_TRUE(a.Upload(ta, d).ok());
  ASSERT_EQ(WaitDone(run.run_id()).state(), "done");

  // The model now holds HDFS's adapter; every other declared source set gets a variant without it.
  for (int i = 0; i < 12; ++i) {
    v1::HelloRequest hello;
    hello.add_sources()->set_name(absl::StrCat("S", i));
    ASSERT_TRUE(a.session.Hello(hello).ok());
    auto got = a.session.Download(0);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->bundle.Find("adapter.HDFS.down.weight"), nullptr);
  }
  EXPECT_LE(FilesNamed(".src-").size(), 3u);
}

}  // namespace
}  // namespace fedlog
