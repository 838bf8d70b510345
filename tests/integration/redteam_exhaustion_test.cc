// One site trying to grow the aggregator's state or hold its threads (docs/SECURITY.md, "What is enforced where"),
// over real mTLS: source churn under auto-admission stops at kMaxHelloSources admitted sources; long polls
// (GetTask, and SecAggPoll on the same cap) beyond limits.max_polls_per_site are refused at once while an honest
// site's calls keep being served; calls with 1 MiB of metadata are refused and the server keeps serving; a flood of
// Hellos is paced per site.
#include <atomic>
#include <chrono>
#include <string>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/federation_session.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "server/coordinator_checks.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;

constexpr int kPollsPerSite = 2;

class RedteamExhaustionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_redteam_exhaustion");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "mallory"}));
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    cfg.set_auto_admit_sources(true);
    cfg.mutable_limits()->set_max_polls_per_site(kPollsPerSite);
    server_ = testing::StartAggregatorOrFail(cfg, &port_);
    ASSERT_NE(server_, nullptr);
    admin_ = testing::AdminStub(pki_, port_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  v1::SiteInfo SiteInfoOf(const std::string& id) {
    grpc::ClientContext ctx;
    v1::ListSitesResponse r;
    EXPECT_TRUE(admin_->ListSites(&ctx, {}, &r).ok());
    for (const v1::SiteInfo& s : r.sites()) {
      if (s.site_id() == id) return s;
    }
    ADD_FAILURE() << "no site " << id;
    return {};
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  int port_ = 0;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(RedteamExhaustionTest, SourceChurnCannotGrowTheAdmittedSetWithoutBound) {
  Site m(pki_, "mallory", port_);
  // Each Hello declares kMaxHelloSources names it never declared before.
  constexpr int kHellos = 4;
  for (int round = 0; round < kHellos; ++round) {
    v1::HelloRequest h;
    for (int i = 0; i < server::kMaxHelloSources; ++i) h.add_sources()->set_name(absl::StrCat("s", round, "_", i));
    ASSERT_TRUE(m.session.Hello(h).ok()) << round;
  }
  const v1::SiteInfo info = SiteInfoOf("mallory");
  EXPECT_LE(info.admitted_sources_size(), server::kMaxHelloSources);
  // The last Hello's names wait for an admin instead.
  EXPECT_EQ(info.pending_sources_size(), server::kMaxHelloSources);
  // An honest site under auto-admission is admitted as before.
  Site a(pki_, "site-a", port_);
  EXPECT_EQ(SiteInfoOf("site-a").admitted_sources_size(), 1);
}

// Every Hello writes the site's row and a log line: one site's flood of Hellos is paced (a burst, then a few a
// second), the others' are not, and the flooding site is served again a second later.
TEST_F(RedteamExhaustionTest, AFloodOfHellosIsPacedPerSite) {
  Site m(pki_, "mallory", port_), a(pki_, "site-a", port_);  // each said hello once
  v1::HelloRequest h;
  h.add_sources()->set_name("HDFS");
  int ok = 0, paced = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 3 * server::kStateWriteBurst; ++i) {
    absl::Status st = m.session.Hello(h).status();
    if (st.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
      ++paced;
    }
  }
  const double elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_GT(paced, 0);
  EXPECT_LE(ok, server::kStateWriteBurst + server::kStateWritesPerSecond * (elapsed_s + 1));
  EXPECT_TRUE(a.session.Hello(h).ok());  // another site is not paced by mallory's flood
  absl::SleepFor(absl::Seconds(1.1));
  EXPECT_TRUE(m.session.Hello(h).ok());
}

TEST_F(RedteamExhaustionTest, LongPollsBeyondTheSiteCapAreRefusedAtOnce) {
  Site a(pki_, "site-a", port_), m(pki_, "mallory", port_);
  // No run: every GetTask is held for the server's longest wait.
  constexpr int kPolls = 4 * kPollsPerSite;
  std::atomic<int> held{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kPolls; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<v1::TaskResponse> r = m.session.GetTask(60000);
      if (r.ok()) {
        ++held;
      } else if (r.status().code() == absl::StatusCode::kResourceExhausted) {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  // While mallory holds its polls, the honest site's are served.
  absl::SleepFor(absl::Milliseconds(200));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(a.session.GetTask(0).ok());
  for (auto& t : threads) t.join();
  EXPECT_LE(held.load(), kPollsPerSite);
  EXPECT_GE(refused.load(), kPolls - kPollsPerSite);
  EXPECT_EQ(other.load(), 0);
  // SecAggPoll is a long poll on the same cap: with the cap free again it is answered.
  v1::SecAggPollRequest p;
  p.set_session_id("no-such-session");
  absl::StatusOr<v1::SecAggPollResponse> r = m.session.SecAggPoll(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->has_aborted());
}

TEST_F(RedteamExhaustionTest, HugeMetadataIsRefusedAndOthersAreServed) {
  Site a(pki_, "site-a", port_);
  auto stub = v1::Federation::NewStub(testing::SiteChannel(pki_, "mallory", port_));
  // 1 MiB of metadata on each of a few calls: gRPC's header-list limit refuses them before any handler runs.
  int refused = 0;
  for (int i = 0; i < 4; ++i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-junk", std::string(1 << 20, 'a'));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::HeartbeatResponse resp;
    grpc::Status st = stub->Heartbeat(&ctx, v1::HeartbeatRequest(), &resp);
    if (!st.ok()) ++refused;
  }
  EXPECT_EQ(refused, 4);
  // The same site without the junk, on a new connection (the server closes the one that carried it), and the
  // honest site are served.
  auto fresh = v1::Federation::NewStub(testing::SiteChannel(pki_, "mallory", port_));
  grpc::ClientContext ctx;
  v1::HeartbeatResponse resp;
  grpc::Status after = fresh->Heartbeat(&ctx, v1::HeartbeatRequest(), &resp);
  EXPECT_TRUE(after.ok()) << after.error_code() << " " << after.error_message();
  EXPECT_TRUE(a.session.Heartbeat("idle").ok());
}

}  // namespace
}  // namespace fedlog
