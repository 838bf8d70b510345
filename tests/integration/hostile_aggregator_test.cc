// The site against its aggregator (docs/SECURITY.md, "The site against its aggregator"): a hostile aggregator
// (tests/integration/fake_aggregator.h, real mTLS on loopback with the aggregator's certificate) sends lying
// manifests, endless or short model streams, wrong digests, undecodable bundles, models that do not fit the
// site's schema or carry NaN, absurd hello and plan numbers, and bad secure-aggregation messages. Each test shows
// the site refusing with a clear Status marked as a refusal (client/aggregator_checks.h IsRefusal), keeping its
// previous model and state, and carrying on: a later honest answer works.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "client/aggregator_checks.h"
#include "client/detect/model_loader.h"
#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/fl/bundle_codec.h"
#include "common/secagg/messages.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/fake_aggregator.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog::testing {
namespace {

constexpr int64_t kLimit = int64_t{2} << 20;  // the sessions' max_model_bytes here
constexpr int64_t kStreamedBound = int64_t{64} << 20;  // what transport buffers may take before a cancel lands

v1::ModelSpec TinySpec() {
  v1::ModelSpec spec;
  spec.set_arch("mlp_autoencoder");
  spec.set_input_dim(38);
  spec.add_hidden(16);
  spec.add_hidden(4);
  return spec;
}

v1::HelloResponse GoodHello() {
  v1::HelloResponse h;
  h.set_site_id("site-a");
  h.set_heartbeat_interval_ms(200);
  h.set_max_poll_wait_ms(200);
  return h;
}

v1::TaskResponse Promoted(int64_t version) {
  v1::TaskResponse t;
  t.mutable_none()->set_promoted_version(version);
  return t;
}

// Waits up to 20 s for `done`.
bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

int64_t PromotedOnDisk(const std::string& data_dir) {
  absl::StatusOr<std::string> bytes = ReadFile(client::detect::PromotedManifestPath(data_dir));
  v1::ModelManifest m;
  return bytes.ok() && m.ParseFromString(*bytes) ? m.version() : 0;
}

class HostileAggregatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("fedlog_hostile");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(MakePki(pki_, {"site-a"}));
    fake_ = FakeAggregator::Start(pki_);
    ASSERT_NE(fake_, nullptr);
    fake_->SetHello(GoodHello());
    fake_->SetTask(Promoted(0));
    honest_ = MakeFakeModel(TinySpec(), 1);
    ASSERT_FALSE(honest_.bytes.empty());
    session_ = std::make_unique<client::FederationSession>(SiteChannel(pki_, "site-a", fake_->port()), 1 << 20,
                                                           kLimit);
  }
  void TearDown() override {
    session_.reset();
    fake_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The download of v1 is refused with `code` and a message holding `words`; then the honest model downloads.
  void ExpectRefusedThenHonest(absl::StatusCode code, const std::string& words) {
    absl::StatusOr<client::DownloadedModel> got = session_->Download(1);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_TRUE(absl::StrContains(got.status().message(), words)) << got.status();
    EXPECT_TRUE(client::IsRefusal(got.status())) << got.status();
    EXPECT_LT(fake_->bytes_streamed(), kStreamedBound);
    fake_->SetModel(ModelChunks(honest_.manifest, honest_.bytes));
    absl::StatusOr<client::DownloadedModel> again = session_->Download(1);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->bytes, static_cast<int64_t>(honest_.bytes.size()));
    EXPECT_TRUE(client::CheckDownloadedBundle(TinySpec(), again->bundle, {"HDFS"}).ok());
  }

  std::string dir_, pki_;
  std::unique_ptr<FakeAggregator> fake_;
  FakeModel honest_;
  std::unique_ptr<client::FederationSession> session_;
};

TEST_F(HostileAggregatorTest, ManifestClaimingHugeSizeIsRefusedBeforeBuffering) {
  v1::ModelManifest m = honest_.manifest;
  m.set_size_bytes(int64_t{1} << 40);  // reserve() of this would throw in the daemon
  fake_->SetModel(ModelChunks(m, honest_.bytes), /*endless=*/true);
  ExpectRefusedThenHonest(absl::StatusCode::kInvalidArgument, "max_model_bytes");
}

TEST_F(HostileAggregatorTest, EndlessStreamIsCutOffAtTheManifestSize) {
  fake_->SetModel(ModelChunks(honest_.manifest, honest_.bytes), /*endless=*/true);
  ExpectRefusedThenHonest(absl::StatusCode::kDataLoss, "carried more than");
}

TEST_F(HostileAggregatorTest, ShortStreamIsRefused) {
  std::vector<v1::ModelChunk> chunks = ModelChunks(honest_.manifest, honest_.bytes, 256);
  ASSERT_GT(chunks.size(), 2u);
  chunks.pop_back();
  fake_->SetModel(chunks);
  ExpectRefusedThenHonest(absl::StatusCode::kDataLoss, "its manifest states");
}

TEST_F(HostileAggregatorTest, WrongDigestIsRefused) {
  v1::ModelManifest m = honest_.manifest;
  m.set_sha256(Sha256Hex("another model"));
  fake_->SetModel(ModelChunks(m, honest_.bytes));
  ExpectRefusedThenHonest(absl::StatusCode::kDataLoss, "sha256");
}

TEST_F(HostileAggregatorTest, ManifestOfAnotherVersionIsRefused) {
  v1::ModelManifest m = honest_.manifest;
  m.set_version(7);
  fake_->SetModel(ModelChunks(m, honest_.bytes));
  ExpectRefusedThenHonest(absl::StatusCode::kInvalidArgument, "v7 for v1");
}

TEST_F(HostileAggregatorTest, StreamWithoutOrWithTwoManifestsIsRefused) {
  std::vector<v1::ModelChunk> chunks = ModelChunks(honest_.manifest, honest_.bytes);
  chunks.erase(chunks.begin());
  fake_->SetModel(chunks);
  ExpectRefusedThenHonest(absl::StatusCode::kInvalidArgument, "without its manifest");
  chunks = ModelChunks(honest_.manifest, honest_.bytes);
  *chunks.back().mutable_manifest() = honest_.manifest;
  fake_->SetModel(chunks);
  ExpectRefusedThenHonest(absl::StatusCode::kInvalidArgument, "second manifest");
}

// A call that fails before its first chunk reports the aggregator's status, not a refusal of a missing manifest
// (an aggregator that went away must be reconnected to, not counted as hostile).
TEST_F(HostileAggregatorTest, FailedCallIsNotTakenForAMissingManifest) {
  absl::StatusOr<client::DownloadedModel> got = session_->Download(1);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << got.status();
  EXPECT_FALSE(client::IsRefusal(got.status()));
}

TEST_F(HostileAggregatorTest, UndecodableBytesWithTheirOwnDigestAreRefused) {
  const std::string junk(4096, '\x0a');
  v1::ModelManifest m = honest_.manifest;
  m.set_sha256(Sha256Hex(junk));
  m.set_size_bytes(static_cast<int64_t>(junk.size()));
  fake_->SetModel(ModelChunks(m, junk));
  ExpectRefusedThenHonest(absl::StatusCode::kInvalidArgument, "does not decode");
}

TEST_F(HostileAggregatorTest, SpecTooLargeForTheSiteIsRefused) {
  v1::ModelManifest m = honest_.manifest;
  m.mutable_spec()->set_input_dim(1 << 30);  // its initial weights would need gigabytes
  fake_->SetModel(ModelChunks(m, honest_.bytes));
  ExpectRefusedThenHonest(absl::StatusCode::kInvalidArgument, "max_model_bytes");
}

TEST_F(HostileAggregatorTest, ModelsThatDoNotFitTheSchemaAreRefused) {
  const std::vector<std::pair<std::string, std::function<void(fl::TensorBundle*)>>> hostile = {
      {"NaN", [](fl::TensorBundle* b) { b->tensors[0].values[0] = std::nanf(""); }},
      {"infinity", [](fl::TensorBundle* b) { b->tensors.back().values.back() = INFINITY; }},
      {"extra", [](fl::TensorBundle* b) { b->tensors.push_back({"evil.weight", {2}, {1, 2}}); }},
      {"missing", [](fl::TensorBundle* b) { b->tensors.pop_back(); }},
      {"misshapen", [](fl::TensorBundle* b) {
         fl::NamedTensor& t = b->tensors[0];
         t.shape = {static_cast<int64_t>(t.values.size())};
       }},
      {"foreign adapter", [](fl::TensorBundle* b) {
         b->tensors.push_back({"adapter.Other.down.bias", {4}, {0, 0, 0, 0}});
       }},
  };
  for (const auto& [name, edit] : hostile) {
    SCOPED_TRACE(name);
    FakeModel bad = MakeFakeModel(TinySpec(), 1, edit);
    fake_->SetModel(ModelChunks(bad.manifest, bad.bytes));
    absl::StatusOr<client::DownloadedModel> got = session_->Download(1);
    ASSERT_TRUE(got.ok()) << got.status();  // digest and size are right: the bytes are what was sent
    absl::Status st = client::CheckDownloadedBundle(TinySpec(), got->bundle, {"HDFS"});
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), "does not fit this site's schema")) << st;
    EXPECT_TRUE(client::IsRefusal(st));
  }
  EXPECT_TRUE(client::CheckDownloadedBundle(TinySpec(), *fl::DecodeBundle(honest_.bytes), {"HDFS"}).ok());
}

TEST_F(HostileAggregatorTest, HelloWithAbsurdTimingIsRefused) {
  for (int32_t poll : {INT_MAX, -1}) {
    v1::HelloResponse h = GoodHello();
    h.set_max_poll_wait_ms(poll);
    fake_->SetHello(h);
    absl::StatusOr<v1::HelloResponse> got = session_->Hello(v1::HelloRequest());
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(got.status().message(), "max_poll_wait_ms")) << got.status();
    EXPECT_TRUE(client::IsRefusal(got.status()));
  }
  fake_->SetHello(GoodHello());
  EXPECT_TRUE(session_->Hello(v1::HelloRequest()).ok());
}

TEST_F(HostileAggregatorTest, PlansWithAbsurdNumbersAreRefused) {
  v1::RoundTask good;
  good.set_run_id(1);
  good.set_round(1);
  good.set_model_version(1);
  *good.mutable_spec() = TinySpec();
  ASSERT_TRUE(client::CheckRoundTask(good, kLimit).ok());
  const std::vector<std::pair<std::string, std::function<void(v1::RoundTask*)>>> hostile = {
      {"local_epochs", [](v1::RoundTask* t) { t->mutable_plan()->set_local_epochs(INT_MAX); }},
      {"batch_size", [](v1::RoundTask* t) { t->mutable_plan()->set_batch_size(-3); }},
      {"meta_iterations", [](v1::RoundTask* t) { t->mutable_plan()->set_meta_iterations(INT_MAX); }},
      {"learning_rate", [](v1::RoundTask* t) { t->mutable_plan()->set_learning_rate(std::nanf("")); }},
      {"line_dp_delta", [](v1::RoundTask* t) { t->mutable_plan()->set_line_dp_delta(2); }},
      {"dp_mode", [](v1::RoundTask* t) { t->set_dp_mode("bogus"); }},
      {"model v", [](v1::RoundTask* t) { t->set_model_version(0); }},
      {"model_sha256", [](v1::RoundTask* t) { t->set_model_sha256("zz"); }},
      {"update dtype", [](v1::RoundTask* t) { t->set_update_dtype("float64"); }},
      {"SecAggConfig", [](v1::RoundTask* t) { t->set_secure_aggregation(true); }},
      {"max_model_bytes", [](v1::RoundTask* t) { t->mutable_spec()->add_hidden(1 << 20); }},
  };
  for (const auto& [words, edit] : hostile) {
    v1::RoundTask t = good;
    edit(&t);
    absl::Status st = client::CheckRoundTask(t, kLimit);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << words << ": " << st;
    EXPECT_TRUE(absl::StrContains(st.message(), words)) << words << ": " << st;
    EXPECT_TRUE(client::IsRefusal(st)) << words;
  }
}

v1::RoundTask SecAggTask() {
  v1::RoundTask t;
  t.set_run_id(1);
  t.set_round(1);
  t.set_model_version(1);
  t.set_secure_aggregation(true);
  v1::SecAggConfig* c = t.mutable_secagg();
  c->set_protocol_version(secagg::kProtocolVersion);
  c->set_session_id("hostile-session");
  c->set_threshold(2);
  c->set_vector_length(4);
  c->set_clip_range(1);
  c->set_max_weight(100);
  c->set_max_sites(3);
  return t;
}

TEST_F(HostileAggregatorTest, BadSecAggRosterIsRefusedNotTakenForRevocation) {
  v1::SecAggPollResponse roster;
  for (const char* site : {"site-a", "site-b"}) {  // one index twice, keys of the wrong size
    v1::SecAggRosterEntry* e = roster.mutable_roster()->add_entries();
    e->set_index(1);
    e->set_site_id(site);
    e->set_encryption_key(std::string(5, 'k'));
    e->set_mask_key(std::string(5, 'm'));
  }
  fake_->SetPoll(v1::SecAggPollRequest::ROSTER, roster);
  std::unique_ptr<client::SecAggTransport> transport = client::SessionTransport(session_.get());
  client::SecAggClientOptions options;
  options.site_id = "site-a";
  options.key_file = JoinPath(pki_, "site-a.key");
  options.ca_file = JoinPath(pki_, "ca.crt");
  const std::vector<float> x(4, 0.5f);
  absl::Status st = client::RunSecureAggregation(transport.get(), options, SecAggTask(), x, 10, v1::UpdateHeader());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "roster")) << st;
  EXPECT_TRUE(client::IsRefusal(st));
}

TEST_F(HostileAggregatorTest, SecAggPendingForeverIsPacedAndEnds) {
  v1::SecAggPollResponse pending;
  pending.set_pending(true);
  fake_->SetPoll(v1::SecAggPollRequest::ROSTER, pending);
  std::unique_ptr<client::SecAggTransport> transport = client::SessionTransport(session_.get());
  client::SecAggClientOptions options;
  options.site_id = "site-a";
  options.key_file = JoinPath(pki_, "site-a.key");
  options.ca_file = JoinPath(pki_, "ca.crt");
  options.max_wait_ms = 1000;
  const std::vector<float> x(4, 0.5f);
  absl::Status st = client::RunSecureAggregation(transport.get(), options, SecAggTask(), x, 10, v1::UpdateHeader());
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  // At most one poll per min_poll_interval_ms (100 ms) over about a second, not thousands.
  EXPECT_LE(fake_->polls(), 15);
}

// The daemon: a refused promoted model leaves the previous one on disk; an honest one is then fetched.
TEST_F(HostileAggregatorTest, DaemonKeepsItsModelAndCarriesOn) {
  const std::string data = JoinPath(dir_, "site-a");
  std::filesystem::create_directories(data);
  v1::ClientConfig config = ClientConfigFor(pki_, "site-a", fake_->port(), data, WriteLog(dir_, "a", 300, 1));
  fake_->SetModel(ModelChunks(honest_.manifest, honest_.bytes));
  fake_->SetTask(Promoted(1));
  RunningDaemons daemons;
  client::SiteDaemon* daemon = daemons.Start(config);
  ASSERT_NE(daemon, nullptr);
  ASSERT_TRUE(WaitFor([&] { return PromotedOnDisk(data) == 1; }));
  const std::string v1_bytes = ReadFile(client::detect::PromotedBundlePath(data)).value_or("");

  // v2 with NaN (right digest and size): refused, v1 stays.
  FakeModel nan = MakeFakeModel(TinySpec(), 2, [](fl::TensorBundle* b) { b->tensors[0].values[0] = std::nanf(""); });
  fake_->SetModel(ModelChunks(nan.manifest, nan.bytes));
  fake_->SetTask(Promoted(2));
  ASSERT_TRUE(WaitFor([&] { return daemon->refused_from_aggregator() >= 2; }));  // refused, backed off, refused
  EXPECT_EQ(PromotedOnDisk(data), 1);
  EXPECT_EQ(ReadFile(client::detect::PromotedBundlePath(data)).value_or(""), v1_bytes);

  // A round whose plan would hold the trainer for ever: refused before any download.
  const int downloads = fake_->downloads();
  const int refused = daemon->refused_from_aggregator();
  v1::TaskResponse round;
  round.mutable_round()->set_run_id(1);
  round.mutable_round()->set_round(1);
  round.mutable_round()->set_model_version(2);
  round.mutable_round()->mutable_plan()->set_local_epochs(INT_MAX);
  fake_->SetTask(round);
  ASSERT_TRUE(WaitFor([&] { return daemon->refused_from_aggregator() >= refused + 2; }));
  EXPECT_EQ(fake_->downloads(), downloads);
  EXPECT_EQ(daemon->rounds_completed(), 0);

  // The honest v2: fetched.
  FakeModel v2 = MakeFakeModel(TinySpec(), 2);
  fake_->SetModel(ModelChunks(v2.manifest, v2.bytes));
  fake_->SetTask(Promoted(2));
  EXPECT_TRUE(WaitFor([&] { return PromotedOnDisk(data) == 2; }));
  daemons.Stop();
}

// A hello the daemon refuses is retried with backoff; an honest one then connects.
TEST_F(HostileAggregatorTest, DaemonRetriesAfterARefusedHello) {
  const std::string data = JoinPath(dir_, "site-a");
  std::filesystem::create_directories(data);
  v1::ClientConfig config = ClientConfigFor(pki_, "site-a", fake_->port(), data, WriteLog(dir_, "a", 300, 1));
  v1::HelloResponse bad = GoodHello();
  bad.set_heartbeat_interval_ms(-1);
  fake_->SetHello(bad);
  fake_->SetModel(ModelChunks(honest_.manifest, honest_.bytes));
  fake_->SetTask(Promoted(1));
  RunningDaemons daemons;
  client::SiteDaemon* daemon = daemons.Start(config);
  ASSERT_NE(daemon, nullptr);
  ASSERT_TRUE(WaitFor([&] { return daemon->refused_from_aggregator() >= 2; }));
  EXPECT_EQ(fake_->downloads(), 0);
  fake_->SetHello(GoodHello());
  EXPECT_TRUE(WaitFor([&] { return PromotedOnDisk(data) == 1; }));
  daemons.Stop();
}

// A survivor set that would expose one site (both of a survivor's shares asked for) is refused when the site is
// asked to confirm it (since protocol version 5; the unmask request with it would be refused as Aborted), as a
// refusal, never PermissionDenied or Unauthenticated (which the daemon takes for revocation and exits on): the
// same site session then takes part in the run's next secure round, which completes. A real aggregator here (the
// forged request is the real one with a survivor added to the dropped list, testing::SecAggRelay).
TEST(HostileUnmaskTest, ARefusedUnmaskRequestIsAbortedAndTheSiteTakesPartInTheNextRound) {
  const std::string dir = MakeTempDir("fedlog_hostile_unmask");
  const std::string pki = JoinPath(dir, "pki");
  ASSERT_TRUE(MakePki(pki, {"site-a", "site-b", "site-c"}));
  v1::ServerConfig cfg = ServerConfigFor(pki, JoinPath(dir, "agg"));
  ASSERT_TRUE(UseTinyLineEncoder(&cfg, 8, 4));
  int port = 0;
  std::unique_ptr<server::AggregatorServer> server = StartAggregatorOrFail(cfg, &port);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<v1::Admin::Stub> admin = AdminStub(pki, port);
  v1::StartRunRequest req;
  req.mutable_plan()->set_rounds(2);
  req.mutable_plan()->set_min_sites(3);
  req.mutable_plan()->set_round_deadline_s(60);
  req.mutable_plan()->set_secure_aggregation(true);
  req.mutable_plan()->set_secagg_step_s(2);
  v1::RunStatus run;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->StartRun(&ctx, req, &run).ok());
  }
  std::vector<std::unique_ptr<HandSite>> sites;
  for (const char* name : {"site-a", "site-b", "site-c"}) sites.push_back(std::make_unique<HandSite>(pki, name, port));
  // One secure round: every site's task, then the five steps on one thread per site; site-a's relay forges
  // the survivor set (to confirm, then in the unmask request) when `forge`.
  auto round = [&](bool forge, std::vector<absl::Status>* results) {
    std::vector<v1::RoundTask> tasks(sites.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sites.size(); ++i) threads.emplace_back([&, i] { tasks[i] = sites[i]->WaitTask(); });
    for (auto& t : threads) t.join();
    threads.clear();
    results->assign(sites.size(), absl::OkStatus());
    std::vector<std::unique_ptr<SecAggRelay>> relays;
    for (size_t i = 0; i < sites.size(); ++i) {
      relays.push_back(std::make_unique<SecAggRelay>(&sites[i]->session));
      relays.back()->forge_unmask = forge && i == 0;
    }
    for (size_t i = 0; i < sites.size(); ++i) {
      threads.emplace_back([&, i] {
        absl::StatusOr<client::DownloadedModel> global = sites[i]->session.Download(tasks[i].model_version());
        if (!global.ok()) {
          (*results)[i] = global.status();
          return;
        }
        fl::TensorBundle delta;
        for (const fl::NamedTensor& t : global->bundle.tensors) {
          if (fl::IsOptionalTensor(t.name)) continue;
          delta.tensors.push_back(t);
          std::fill(delta.tensors.back().values.begin(), delta.tensors.back().values.end(), 0.01f);
        }
        absl::StatusOr<std::vector<float>> x = client::SecAggVector(tasks[i], global->bundle, delta, nullptr);
        if (!x.ok()) {
          (*results)[i] = x.status();
          return;
        }
        client::SecAggClientOptions o = sites[i]->SecAggOptions();
        (*results)[i] = client::RunSecureAggregation(relays[i].get(), o, tasks[i], *x, 100,
                                                     HandSite::Header(tasks[i], 100));
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(relays[0]->unmask_calls, forge ? 0 : 1);
  };
  std::vector<absl::Status> first, second;
  round(true, &first);
  // Refused before it signs anything: a set naming one site both as survivor and as dropped.
  EXPECT_EQ(first[0].code(), absl::StatusCode::kInvalidArgument) << first[0];
  EXPECT_TRUE(absl::StrContains(first[0].message(), "both as survivor and as dropped")) << first[0];
  EXPECT_TRUE(client::IsRefusal(first[0])) << first[0];
  EXPECT_TRUE(first[1].ok() && first[2].ok()) << first[1] << first[2];
  round(false, &second);
  for (const absl::Status& st : second) EXPECT_TRUE(st.ok()) << st;
  v1::RunStatus done = WaitRun(admin.get(), run.run_id(), [](const v1::RunStatus& s) { return s.state() != "running"; });
  EXPECT_EQ(done.state(), "done");
  EXPECT_EQ(done.current_round(), 2);
  server->Shutdown();
  std::filesystem::remove_all(dir);
}

TEST(MaxModelBytesTest, DefaultAndRange) {
  v1::ClientConfig base;
  base.set_data_dir("/tmp/site");
  base.mutable_tls()->set_ca_cert("ca.crt");
  base.mutable_tls()->set_cert("site.crt");
  base.mutable_tls()->set_key("site.key");
  base.add_sources()->set_name("HDFS");
  base.mutable_sources(0)->set_path("hdfs.log");
  v1::ClientConfig c = base;
  ASSERT_TRUE(client::FinalizeClientConfig(&c).ok());
  EXPECT_EQ(c.max_model_bytes(), client::kDefaultMaxModelBytes);
  for (int64_t ok : {client::kMinMaxModelBytes, client::kMaxMaxModelBytes}) {
    c = base;
    c.set_max_model_bytes(ok);
    EXPECT_TRUE(client::FinalizeClientConfig(&c).ok()) << ok;
    EXPECT_EQ(c.max_model_bytes(), ok);
  }
  for (int64_t bad : {int64_t{-1}, client::kMinMaxModelBytes - 1, client::kMaxMaxModelBytes + 1}) {
    c = base;
    c.set_max_model_bytes(bad);
    const absl::Status st = client::FinalizeClientConfig(&c);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(st.message(), "max_model_bytes")) << st;
  }
}

}  // namespace
}  // namespace fedlog::testing
