// Round bookkeeping across an aggregator restart, over real mTLS on loopback (docs/PRIVACY.md, "Aggregator
// restarts"): a round a site declined under its policy is not offered to it again after the restart and its
// decline is counted once; an open secure-aggregation attempt is failed at restart and the round recovers with a
// fresh attempt (a new session id) that waits for the interrupted attempt's sites, which re-join it.
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "client/federation_session.h"
#include "client/secagg_client.h"
#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_restart");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "site-c"}));
    StartServer(0);
  }
  void TearDown() override {
    for (auto& d : daemons_) d->Stop();
    for (auto& t : threads_) t.join();
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(int port) {
    auto s = server::AggregatorServer::Start(testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"), port));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    port_ = server_->port();
    admin_ = testing::AdminStub(pki_, port_);
  }
  // Same data dir, same port: the daemons reconnect with their backoff.
  void RestartServer() {
    server_->Shutdown();
    server_.reset();
    StartServer(port_);
  }

  void StartSite(const std::string& site, const v1::SitePrivacyPolicy& policy = {}) {
    std::string log = testing::WriteLog(dir_, site, 200, static_cast<int>(site.back()));
    v1::ClientConfig config = testing::ClientConfigFor(pki_, site, port_, JoinPath(dir_, site), log);
    config.mutable_privacy()->MergeFrom(policy);
    auto d = client::SiteDaemon::Create(config);
    ASSERT_TRUE(d.ok()) << d.status();
    client::SiteDaemon* raw = d->get();
    daemons_.push_back(std::move(*d));
    threads_.emplace_back([raw] { EXPECT_TRUE(raw->Run().ok()); });
  }

  // Waits (up to 20 s) until each of `sites` is online.
  void WaitOnline(const std::vector<std::string>& sites) {
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext ctx;
      v1::ListSitesResponse list;
      size_t online = 0;
      if (admin_->ListSites(&ctx, {}, &list).ok()) {
        for (const auto& s : list.sites()) {
          if (s.online() && std::find(sites.begin(), sites.end(), s.site_id()) != sites.end()) ++online;
        }
      }
      if (online == sites.size()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "sites never came online";
  }

  int64_t StartRun(v1::RunPlan plan) {
    v1::StartRunRequest req;
    *req.mutable_plan() = std::move(plan);
    v1::RunStatus run;
    grpc::ClientContext ctx;
    grpc::Status st = admin_->StartRun(&ctx, req, &run);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return run.run_id();
  }
  v1::RunStatus Wait(int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready) {
    return testing::WaitRun(admin_.get(), run_id, ready);
  }
  static bool Finished(const v1::RunStatus& s) { return s.state() != "waiting" && s.state() != "running"; }

  // A session for `site` that has said hello.
  std::unique_ptr<client::FederationSession> HandSite(const std::string& site, std::string* id) {
    auto s = std::make_unique<client::FederationSession>(testing::SiteChannel(pki_, site, port_));
    absl::StatusOr<v1::HelloResponse> hello = s->Hello({});
    EXPECT_TRUE(hello.ok()) << hello.status();
    if (hello.ok() && id != nullptr) *id = hello->site_id();
    return s;
  }

  std::string dir_, pki_;
  int port_ = 0;
  std::unique_ptr<server::AggregatorServer> server_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::vector<std::unique_ptr<client::SiteDaemon>> daemons_;
  std::vector<std::thread> threads_;
};

// A zero delta of `model`'s tensors.
fl::TensorBundle ZeroDelta(const fl::TensorBundle& model) {
  fl::TensorBundle d = model;
  for (auto& t : d.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  return d;
}

TEST_F(RestartTest, DeclineIsCountedOnceAcrossAnAggregatorRestart) {
  v1::SitePrivacyPolicy strict;
  strict.set_require_secure_aggregation(true);  // the plain run below is weaker: site-b declines it
  StartSite("site-b", strict);
  WaitOnline({"site-b"});
  std::unique_ptr<client::FederationSession> a = HandSite("site-a", nullptr);
  v1::RunPlan plan;
  plan.set_rounds(1);
  plan.set_min_sites(1);  // both are online when it opens: both take part, and site-a's update completes it
  plan.set_round_deadline_s(60);
  const int64_t run = StartRun(plan);
  const v1::RoundTask task = testing::WaitRoundTask(a.get());  // site-a takes part but holds its update back
  v1::RunStatus declined = Wait(run, [](const v1::RunStatus& s) { return s.declined_rounds() >= 1; });
  ASSERT_EQ(declined.declined_rounds(), 1);

  // site-b's daemon stops here, so that what site-b is offered after the restart is seen by the test alone.
  daemons_[0]->Stop();
  threads_[0].join();
  daemons_.clear();
  threads_.clear();

  RestartServer();
  // site-b comes back: the recovered round is not offered to it again, and declining it again changes nothing.
  client::FederationSession b(testing::SiteChannel(pki_, "site-b", port_));
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<v1::TaskResponse> t = b.GetTask(300);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_FALSE(t->has_round()) << "the round site-b declined was offered to it again after the restart";
  }
  EXPECT_TRUE(b.DeclineRound(run, task.round(), "declined again (test)").ok());
  a = HandSite("site-a", nullptr);
  const v1::RoundTask again = testing::WaitRoundTask(a.get());
  ASSERT_EQ(again.round(), task.round());
  EXPECT_EQ(again.model_version(), task.model_version());
  absl::StatusOr<client::DownloadedModel> global = a->Download(again.model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  v1::UpdateHeader h;
  h.set_run_id(run);
  h.set_round(again.round());
  h.set_base_version(again.model_version());
  h.set_num_samples(100);
  h.set_train_loss(1.0);
  ASSERT_TRUE(a->Upload(h, *fl::EncodeBundle(ZeroDelta(global->bundle))).ok());

  v1::RunStatus done = Wait(run, Finished);
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).attempt(), 1);  // the same attempt, resumed
  EXPECT_EQ(done.rounds(0).sites(), 1);
  EXPECT_EQ(done.rounds(0).declined(), 1);
  EXPECT_EQ(done.declined_rounds(), 1) << "the decline was counted again after the restart";
  ASSERT_EQ(done.declines_size(), 1);
  EXPECT_EQ(done.declines(0).site_id(), "site-b");
  EXPECT_EQ(done.declines(0).count(), 1);
}

TEST_F(RestartTest, SecureAggregationAttemptOpenAtRestartRecoversWithAFreshSession) {
  StartSite("site-a");
  StartSite("site-b");
  WaitOnline({"site-a", "site-b"});
  std::string c_id;
  std::unique_ptr<client::FederationSession> c = HandSite("site-c", &c_id);
  v1::RunPlan plan;
  plan.set_rounds(1);
  plan.set_min_sites(2);  // two would do: the fresh attempt must still wait for all three
  plan.set_round_deadline_s(60);
  plan.set_secure_aggregation(true);
  plan.set_secagg_step_s(5);
  plan.mutable_training()->set_local_epochs(1);
  const int64_t run = StartRun(plan);
  // site-c holds the first attempt open in its advertising step (it never advertises).
  const v1::RoundTask first = testing::WaitRoundTask(c.get());
  ASSERT_TRUE(first.secure_aggregation());
  ASSERT_EQ(first.secagg().threshold(), 2);

  RestartServer();
  // The daemons are back first; site-c reconnects a second later.
  WaitOnline({"site-a", "site-b"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  c = HandSite("site-c", &c_id);
  const v1::RoundTask second = testing::WaitRoundTask(c.get());
  ASSERT_TRUE(second.secure_aggregation());
  EXPECT_EQ(second.round(), first.round());
  EXPECT_NE(second.secagg().session_id(), first.secagg().session_id());
  absl::StatusOr<client::DownloadedModel> global = c->Download(second.model_version());
  ASSERT_TRUE(global.ok()) << global.status();
  absl::StatusOr<std::vector<float>> x =
      client::SecAggVector(second, global->bundle, ZeroDelta(global->bundle), nullptr);
  ASSERT_TRUE(x.ok()) << x.status();
  v1::UpdateHeader h;
  h.set_run_id(run);
  h.set_round(second.round());
  h.set_base_version(second.model_version());
  h.set_num_samples(100);
  h.set_train_loss(1.0);
  client::SecAggClientOptions o;
  o.site_id = c_id;
  o.key_file = JoinPath(pki_, c_id + ".key");
  o.ca_file = JoinPath(pki_, "ca.crt");
  o.poll_wait_ms = 500;
  std::unique_ptr<client::SecAggTransport> transport = client::SessionTransport(c.get());
  EXPECT_TRUE(client::RunSecureAggregation(transport.get(), o, second, *x, 100, h).ok());

  v1::RunStatus done = Wait(run, Finished);
  ASSERT_EQ(done.state(), "done") << done.message();
  ASSERT_EQ(done.rounds_size(), 2);
  EXPECT_EQ(done.rounds(0).attempt(), 1);
  EXPECT_EQ(done.rounds(0).state(), "failed");
  EXPECT_EQ(done.rounds(1).attempt(), 2);
  EXPECT_EQ(done.rounds(1).state(), "done");
  EXPECT_TRUE(done.rounds(1).secure_aggregation());
  EXPECT_EQ(done.rounds(1).sites(), 3) << "the fresh attempt opened before every site re-joined";
  EXPECT_EQ(done.refused_updates(), 0) << "a stale message of the failed attempt was taken for a refusal";
}

}  // namespace
}  // namespace fedlog
