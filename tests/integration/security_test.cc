// mTLS refusals and identity: who may connect, and that a site is whoever its certificate says.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_sec");
    pki_ = JoinPath(dir_, "pki");
    other_ = JoinPath(dir_, "other");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b"}, {"site-old"}));
    ASSERT_TRUE(testing::MakePki(other_, {"site-a"}));  // same names, another CA
    auto s = server::AggregatorServer::Start(testing::ServerConfigFor(pki_, JoinPath(dir_, "agg")));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void TearDown() override {
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  static grpc::Status Hello(v1::Federation::Stub* stub, v1::HelloResponse* resp = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::HelloResponse r;
    return stub->Hello(&ctx, {}, resp ? resp : &r);
  }

  std::string dir_, pki_, other_;
  std::unique_ptr<server::AggregatorServer> server_;
};

TEST_F(SecurityTest, RefusesClientsWithoutAValidCertificate) {
  const int port = server_->port();
  EXPECT_EQ(Hello(testing::AnonymousStub(pki_, port).get()).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Certificate from another CA (the client still trusts our CA for the server).
  EXPECT_EQ(Hello(testing::SiteStub(other_, "site-a", port, pki_).get()).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Hello(testing::SiteStub(pki_, "site-old", port).get()).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The server is unharmed and serves a good client.
  EXPECT_TRUE(Hello(testing::SiteStub(pki_, "site-a", port).get()).ok());
}

TEST_F(SecurityTest, IdentityComesFromTheCertificateAndRolesAreChecked) {
  const int port = server_->port();
  v1::HelloResponse resp;
  ASSERT_TRUE(Hello(testing::SiteStub(pki_, "site-b", port).get(), &resp).ok());
  EXPECT_EQ(resp.site_id(), "site-b");
  // The admin certificate cannot act as a site, and a site certificate cannot use the admin service.
  EXPECT_EQ(Hello(testing::SiteStub(pki_, "admin", port).get()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  v1::ListSitesResponse sites;
  EXPECT_EQ(testing::AdminStub(pki_, port, "site-a")->ListSites(&ctx, {}, &sites).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SecurityTest, SiteCannotUploadIntoAnotherSitesRound) {
  const int port = server_->port();
  auto a = testing::SiteStub(pki_, "site-a", port);
  ASSERT_TRUE(Hello(a.get()).ok());
  v1::StartRunRequest start;
  start.mutable_plan()->set_rounds(1);
  start.mutable_plan()->set_min_sites(1);
  v1::RunStatus run;
  grpc::ClientContext sctx;
  ASSERT_TRUE(testing::AdminStub(pki_, port)->StartRun(&sctx, start, &run).ok());
  v1::TaskResponse task;
  for (int i = 0; i < 50 && !task.has_round(); ++i) {
    grpc::ClientContext ctx;
    v1::TaskRequest req;
    req.set_wait_ms(200);
    ASSERT_TRUE(a->GetTask(&ctx, req, &task).ok());
  }
  ASSERT_TRUE(task.has_round());
  // site-b joins late and claims site-a's round: refused, and the refusal is counted.
  auto b = testing::SiteStub(pki_, "site-b", port);
  ASSERT_TRUE(Hello(b.get()).ok());
  grpc::ClientContext uctx;
  v1::UploadResponse up;
  auto writer = b->UploadUpdate(&uctx, &up);
  v1::UpdateChunk chunk;
  chunk.mutable_header()->set_run_id(task.round().run_id());
  chunk.mutable_header()->set_round(task.round().round());
  chunk.mutable_header()->set_base_version(task.round().model_version());
  chunk.mutable_header()->set_num_samples(10);
  chunk.mutable_header()->set_size_bytes(4);
  chunk.set_data("abcd");
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("not a participant"), std::string::npos);
  // A revoked site is refused on every call.
  grpc::ClientContext rctx;
  v1::RevokeSiteRequest revoke;
  revoke.set_site_id("site-b");
  v1::SiteInfo info;
  ASSERT_TRUE(testing::AdminStub(pki_, port)->RevokeSite(&rctx, revoke, &info).ok());
  EXPECT_EQ(Hello(b.get()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace fedlog
