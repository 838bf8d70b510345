// A revoked site must not keep a way into the aggregator (docs/SECURITY.md "Revocation"): its certificate still
// verifies against the CA, so before this it completed TLS handshakes and could send the aggregator HTTP/2
// frames at will (every call refused, but the transport's work done: the rapid-reset probe of
// redteam_calls_test.cc). Now the handshake refuses it, and its open connection ends at limits.max_connection_age_s
// (GOAWAY), after which its calls reconnect and are refused at the handshake too. Honest sites and admins are
// served throughout. Loopback only, bounded in time.
#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

constexpr int kMaxAgeS = 2;

class RedteamRevokedTest : public testing::AggregatorTest {
 protected:
  void SetUp() override {
    StartAggregator("fedlog_redteam_revoked", {"site-a", "mallory"},
                    [](v1::ServerConfig* c) { c->mutable_limits()->set_max_connection_age_s(kMaxAgeS); });
    ASSERT_NE(server_, nullptr);
    port_ = server_->port();
    admin_ = Admin();
  }
  // A channel of its own (its connection is this test's alone).
  std::unique_ptr<v1::Federation::Stub> OwnStub(const std::string& name) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto creds = net::MakeChannelCredentials(
        {JoinPath(pki_, "ca.crt"), JoinPath(pki_, name + ".crt"), JoinPath(pki_, name + ".key")});
    return v1::Federation::NewStub(grpc::CreateCustomChannel(absl::StrCat("localhost:", port_), *creds, args));
  }
  static grpc::StatusCode Heartbeat(v1::Federation::Stub* stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::HeartbeatResponse resp;
    return stub->Heartbeat(&ctx, v1::HeartbeatRequest(), &resp).error_code();
  }
  void Revoke(const std::string& site) {
    grpc::ClientContext ctx;
    v1::RevokeSiteRequest req;
    req.set_site_id(site);
    v1::SiteInfo info;
    ASSERT_TRUE(admin_->RevokeSite(&ctx, req, &info).ok());
  }

  int port_ = 0;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(RedteamRevokedTest, ARevokedSiteIsRefusedAtTheHandshakeAndItsOpenConnectionEnds) {
  auto mallory = OwnStub("mallory"), site_a = OwnStub("site-a");
  ASSERT_EQ(Heartbeat(mallory.get()), grpc::StatusCode::OK);  // connected before the revocation
  Revoke("mallory");
  // Its open connection: the call is refused by the handler (the site is told why).
  EXPECT_EQ(Heartbeat(mallory.get()), grpc::StatusCode::PERMISSION_DENIED);
  // A new connection: the handshake itself is refused (before the change: PERMISSION_DENIED, after a full
  // handshake and HTTP/2 setup).
  EXPECT_EQ(Heartbeat(OwnStub("mallory").get()), grpc::StatusCode::UNAVAILABLE);
  // The open connection reaches its age, is told to end, and the next call's new connection is refused at the
  // handshake; an honest site is served all along (its connections age too and reconnect).
  grpc::StatusCode last = grpc::StatusCode::PERMISSION_DENIED;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(6 * kMaxAgeS);
  while (last != grpc::StatusCode::UNAVAILABLE && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    last = Heartbeat(mallory.get());
    EXPECT_EQ(Heartbeat(site_a.get()), grpc::StatusCode::OK);
  }
  EXPECT_EQ(last, grpc::StatusCode::UNAVAILABLE) << "the revoked site's connection outlived max_connection_age_s";
  EXPECT_EQ(Heartbeat(site_a.get()), grpc::StatusCode::OK);
  grpc::ClientContext ctx;
  v1::ListSitesResponse sites;
  EXPECT_TRUE(admin_->ListSites(&ctx, {}, &sites).ok());
}

TEST_F(RedteamRevokedTest, MaxConnectionAgeIsValidated) {
  v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "other"));
  cfg.mutable_limits()->set_max_connection_age_s(-1);
  EXPECT_FALSE(server::FinalizeServerConfig(&cfg).ok());
  cfg.mutable_limits()->set_max_connection_age_s(86401);
  EXPECT_FALSE(server::FinalizeServerConfig(&cfg).ok());
  cfg.mutable_limits()->set_max_connection_age_s(0);
  ASSERT_TRUE(server::FinalizeServerConfig(&cfg).ok());
  EXPECT_EQ(cfg.limits().max_connection_age_s(), 600);
}

}  // namespace
}  // namespace fedlog
