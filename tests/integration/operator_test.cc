// Issue 15 ("day one for an operator"), in process: a failed start is an error, never a crash; an address is
// never shared; a revocation can be lifted; a run waits for its sites only as long as planned; an untrained model
// is promoted only with force; the open round says who has uploaded; a site id that never connected can be
// forgotten. The e2e scripts in tests/e2e (startup, revoke, runs, detect_config, tls, reconnect) check the same
// with real processes.
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/net/grpc_log.h"
#include "fedlog/v1/federation.pb.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

class OperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_operator");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b"}));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void StartServer() {
    auto s = server::AggregatorServer::Start(testing::ServerConfigFor(pki_, JoinPath(dir_, "agg")));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  grpc::Status Hello(const std::string& site) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::HelloResponse r;
    return testing::SiteStub(pki_, site, server_->port())->Hello(&ctx, {}, &r);
  }
  // A revoked site is refused: at the TLS handshake on a new connection (UNAVAILABLE), in the handler on one it
  // opened before its revocation (PERMISSION_DENIED; docs/SECURITY.md "Revocation").
  static bool Refused(const grpc::Status& st) {
    return st.error_code() == grpc::StatusCode::UNAVAILABLE || st.error_code() == grpc::StatusCode::PERMISSION_DENIED;
  }
  v1::RunStatus GetRun(int64_t run_id) {
    grpc::ClientContext ctx;
    v1::GetRunRequest req;
    req.set_run_id(run_id);
    v1::RunStatus s;
    EXPECT_TRUE(testing::AdminStub(pki_, server_->port())->GetRun(&ctx, req, &s).ok());
    return s;
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
};

// Item 1: each wrong TLS path fails Start with a message naming the file (the destructor used to dereference a
// null server and crash).
TEST_F(OperatorTest, WrongTlsPathIsAnErrorNamingTheFile) {
  for (int which = 0; which < 3; ++which) {
    v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, absl::StrCat("agg", which)));
    const std::string missing = JoinPath(dir_, absl::StrCat("missing-", which, ".pem"));
    if (which == 0) cfg.mutable_tls()->set_ca_cert(missing);
    if (which == 1) cfg.mutable_tls()->set_cert(missing);
    if (which == 2) cfg.mutable_tls()->set_key(missing);
    auto s = server::AggregatorServer::Start(cfg);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find(missing), std::string::npos) << s.status();
  }
  // A key that belongs to another certificate is named too.
  v1::ServerConfig cfg = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg-key"));
  cfg.mutable_tls()->set_key(JoinPath(pki_, "admin.key"));
  auto s = server::AggregatorServer::Start(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("does not belong to the certificate"), std::string::npos) << s.status();
}

// Item 2: a second aggregator on a used address fails at start (gRPC's default SO_REUSEPORT let it share).
TEST_F(OperatorTest, SecondServerOnAUsedAddressFails) {
  StartServer();
  auto second = server::AggregatorServer::Start(
      testing::ServerConfigFor(pki_, JoinPath(dir_, "agg2"), server_->port()));
  ASSERT_FALSE(second.ok()) << "two aggregators share port " << server_->port();
  EXPECT_NE(second.status().message().find("address already in use"), std::string::npos) << second.status();
  server_->Shutdown();
}

// Item 4: a revoked site is refused; unrevoked, it is let back in.
TEST_F(OperatorTest, UnrevokeLetsASiteBackIn) {
  StartServer();
  ASSERT_TRUE(Hello("site-a").ok());
  auto admin = testing::AdminStub(pki_, server_->port());
  v1::RevokeSiteRequest req;
  req.set_site_id("site-a");
  v1::SiteInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->RevokeSite(&ctx, req, &info).ok());
  }
  EXPECT_TRUE(Refused(Hello("site-a")));
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->UnrevokeSite(&ctx, req, &info).ok());
  }
  EXPECT_FALSE(info.revoked());
  EXPECT_TRUE(Hello("site-a").ok());
  req.set_site_id("never-seen");
  grpc::ClientContext ctx;
  EXPECT_EQ(admin->UnrevokeSite(&ctx, req, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  server_->Shutdown();
}

// `fedlog sites forget`: the entry a mistyped `sites revoke` left goes (with its revocation); a site that connected
// keeps its entry; only an admin may ask.
TEST_F(OperatorTest, ForgetRemovesOnlyASiteThatNeverConnected) {
  StartServer();
  ASSERT_TRUE(Hello("site-a").ok());
  auto admin = testing::AdminStub(pki_, server_->port());
  auto revoke = [&](const std::string& id) {
    v1::RevokeSiteRequest req;
    req.set_site_id(id);
    v1::SiteInfo info;
    grpc::ClientContext ctx;
    return admin->RevokeSite(&ctx, req, &info);
  };
  auto forget = [&](v1::Admin::Stub* stub, const std::string& id, v1::ForgetSiteResponse* resp) {
    v1::ForgetSiteRequest req;
    req.set_site_id(id);
    grpc::ClientContext ctx;
    return stub->ForgetSite(&ctx, req, resp);
  };
  auto listed = [&](const std::string& id) {
    v1::ListSitesResponse list;
    grpc::ClientContext ctx;
    EXPECT_TRUE(admin->ListSites(&ctx, {}, &list).ok());
    for (const auto& s : list.sites()) {
      if (s.site_id() == id) return true;
    }
    return false;
  };
  ASSERT_TRUE(revoke("site-typo").ok());
  ASSERT_TRUE(listed("site-typo"));
  v1::ForgetSiteResponse resp;
  EXPECT_EQ(forget(testing::AdminStub(pki_, server_->port(), "site-a").get(), "site-typo", &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(forget(admin.get(), "site-typo", &resp).ok());
  EXPECT_EQ(resp.site_id(), "site-typo");
  EXPECT_TRUE(resp.was_revoked());
  EXPECT_FALSE(listed("site-typo"));
  EXPECT_EQ(forget(admin.get(), "site-typo", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(forget(admin.get(), "", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // An id no certificate can carry is refused and leaves no entry (admin_fuzz_entry's finding; its seed is
  // tests/fuzz/corpus/admin/revoke-invalid-id).
  for (const std::string& bad : {std::string("a..b"), std::string("-x"), std::string(65, 's'), std::string("x/y")}) {
    EXPECT_EQ(revoke(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_FALSE(listed(bad)) << bad;
  }

  // A site that said hello keeps its entry, revoked or not; the message says what to use instead.
  ASSERT_TRUE(revoke("site-a").ok());
  grpc::Status st = forget(admin.get(), "site-a", &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("has connected"), std::string::npos) << st.error_message();
  EXPECT_TRUE(listed("site-a"));
  EXPECT_TRUE(Refused(Hello("site-a")));  // still revoked

  // A forgotten id is unknown again: a site with that id that connects later is a new site, not revoked.
  ASSERT_TRUE(revoke("site-b").ok());
  ASSERT_TRUE(forget(admin.get(), "site-b", &resp).ok());
  EXPECT_TRUE(Hello("site-b").ok()) << "site-b's revocation outlived its forgotten entry";
  server_->Shutdown();
}

// Item 6: a run whose min_sites are not online fails after site_wait_s instead of waiting for ever; the initial
// (untrained) model is promoted only with force.
TEST_F(OperatorTest, WaitForSitesIsBoundedAndUntrainedPromoteNeedsForce) {
  StartServer();
  ASSERT_TRUE(Hello("site-a").ok());
  ASSERT_TRUE(Hello("site-b").ok());
  v1::StartRunRequest start;
  start.mutable_plan()->set_rounds(1);
  start.mutable_plan()->set_min_sites(3);
  start.mutable_plan()->set_site_wait_s(1);
  v1::RunStatus run;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(testing::AdminStub(pki_, server_->port())->StartRun(&ctx, start, &run).ok());
  }
  v1::RunStatus s;
  for (int i = 0; i < 50; ++i) {
    s = GetRun(run.run_id());
    if (s.state() == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(s.state(), "failed");
  EXPECT_NE(s.message().find("only 2 of the 3 site(s)"), std::string::npos) << s.message();

  auto admin = testing::AdminStub(pki_, server_->port());
  v1::PromoteModelRequest promote;
  promote.set_version(1);  // the run's initial weights
  v1::ModelManifest m;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(admin->PromoteModel(&ctx, promote, &m).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  promote.set_force(true);
  grpc::ClientContext ctx;
  EXPECT_TRUE(admin->PromoteModel(&ctx, promote, &m).ok());
  server_->Shutdown();
}

// Item 7: the aggregator's record of a refused handshake becomes one readable line.
TEST(GrpcLogTest, HandshakeFailuresAreDescribed) {
  const std::string d = net::DescribeHandshakeFailure(
      "Handshake failed with fatal error SSL_ERROR_SSL: error:1417C086:SSL "
      "routines:tls_process_client_certificate:certificate verify failed.");
  EXPECT_NE(d.find("refused a TLS handshake: certificate verify failed"), std::string::npos) << d;
  EXPECT_NE(d.find("not signed by the CA"), std::string::npos) << d;
  EXPECT_EQ(net::DescribeHandshakeFailure("Connection refused"), "");
}

// A peer can send string fields that are not UTF-8 as often as it likes; protobuf logs an error at every such
// parse. On a server they reach the log at most once per 10 s.
TEST(GrpcLogTest, ProtobufRecordsOfBadPeerInputAreRateLimited) {
  net::RouteGrpcLogs();
  const std::string bad = {static_cast<char>((v1::SourceInfo::kNameFieldNumber << 3) | 2), 1,
                           static_cast<char>(0xFF)};
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 200; ++i) {
    v1::SourceInfo s;
    EXPECT_FALSE(s.ParseFromString(bad));
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  size_t lines = 0;
  for (size_t at = err.find("UTF-8"); at != std::string::npos; at = err.find("UTF-8", at + 1)) ++lines;
  EXPECT_LE(lines, 1u) << err.substr(0, 2000);
}

}  // namespace
}  // namespace fedlog
