// Model retention (ServerConfig.keep_model_versions, server/coordinator_retention.cc): old versions' files are
// deleted while the promoted ones, the rollback history and the active run's model stay; a deleted version can
// be neither downloaded nor promoted; a restart removes a file an interrupted deletion left.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using testing::Filled;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_retention");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a"}));
    config_ = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"));
    config_.set_keep_model_versions(1);
    server_ = testing::StartAggregatorOrFail(config_, &port_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<v1::Admin::Stub> Admin() { return testing::AdminStub(pki_, port_); }
  // Runs `rounds` rounds with site-a alone (each update a small constant) and waits for the run to end.
  void RunRounds(int rounds) {
    testing::HandSite a(pki_, "site-a", port_);
    v1::RunPlan plan;
    plan.set_rounds(rounds);
    plan.set_min_sites(1);
    plan.set_round_deadline_s(30);
    v1::StartRunRequest req;
    *req.mutable_plan() = plan;
    v1::RunStatus run;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Admin()->StartRun(&ctx, req, &run).ok());
    for (int r = 0; r < rounds; ++r) {
      v1::RoundTask task = a.WaitTask();
      ASSERT_GT(task.model_version(), 0);
      auto model = a.session.Download(task.model_version());
      ASSERT_TRUE(model.ok()) << model.status();  // a round's starting model is never deleted under it
      ASSERT_TRUE(a.Upload(task, Filled(model->bundle, 0.001f)).ok());
    }
    v1::RunStatus done = testing::WaitRun(Admin().get(), run.run_id(),
                                          [](const v1::RunStatus& s) { return s.state() != "running"; });
    ASSERT_EQ(done.state(), "done");
  }
  // Versions listed by `fedlog models`, split into kept and deleted.
  void Listed(std::set<int64_t>* kept, std::set<int64_t>* deleted, int64_t* promoted) {
    v1::ListModelsResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Admin()->ListModels(&ctx, {}, &resp).ok());
    kept->clear();
    deleted->clear();
    for (const auto& m : resp.models()) (m.deleted_ms() > 0 ? deleted : kept)->insert(m.version());
    *promoted = resp.promoted_version();
  }
  std::string ModelFile(int64_t version) const {
    return JoinPath(JoinPath(dir_, "agg"), absl::StrFormat("models/v%06d.bundle", version));
  }
  std::set<int64_t> FilesOnDisk() const {
    std::set<int64_t> out;
    for (int64_t v = 1; v <= 20; ++v) {
      if (std::filesystem::exists(ModelFile(v))) out.insert(v);
    }
    return out;
  }

  std::string dir_, pki_;
  v1::ServerConfig config_;
  int port_ = 0;
  std::unique_ptr<server::AggregatorServer> server_;
};

TEST_F(RetentionTest, OldVersionsGoPromotedAndRollbackTargetsStay) {
  // Run 1: v1 (initial), v2, v3, v4; v4 is promoted when it completes. With keep 1, only v4 stays.
  ASSERT_NO_FATAL_FAILURE(RunRounds(3));
  std::set<int64_t> kept, deleted;
  int64_t promoted = 0;
  ASSERT_NO_FATAL_FAILURE(Listed(&kept, &deleted, &promoted));
  EXPECT_EQ(kept, (std::set<int64_t>{4}));
  EXPECT_EQ(deleted, (std::set<int64_t>{1, 2, 3}));
  EXPECT_EQ(promoted, 4);
  EXPECT_EQ(FilesOnDisk(), (std::set<int64_t>{4}));

  // A deleted version is refused, by name, to a site and to an admin.
  testing::HandSite a(pki_, "site-a", port_);
  auto old = a.session.Download(2);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition) << old.status();
  EXPECT_NE(old.status().message().find("keep_model_versions"), std::string::npos) << old.status();
  {
    v1::PromoteModelRequest req;
    req.set_version(3);
    v1::ModelManifest m;
    grpc::ClientContext ctx;
    grpc::Status st = Admin()->PromoteModel(&ctx, req, &m);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  }

  // Run 2 starts from the promoted v4 and makes v5, v6 (v6 promoted). v4 is older than the newest one, but
  // `models rollback` can go back to it: it stays; v5 goes.
  ASSERT_NO_FATAL_FAILURE(RunRounds(2));
  ASSERT_NO_FATAL_FAILURE(Listed(&kept, &deleted, &promoted));
  EXPECT_EQ(kept, (std::set<int64_t>{4, 6}));
  EXPECT_EQ(deleted, (std::set<int64_t>{1, 2, 3, 5}));
  EXPECT_EQ(FilesOnDisk(), (std::set<int64_t>{4, 6}));
  {
    v1::ModelManifest m;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Admin()->RollbackModel(&ctx, {}, &m).ok());
    EXPECT_EQ(m.version(), 4);
  }
  auto back = a.session.Download(0);  // the promoted model, now v4
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->manifest.version(), 4);
  // v6 was rolled back, but it is the newest: kept.
  EXPECT_EQ(FilesOnDisk(), (std::set<int64_t>{4, 6}));
}

TEST_F(RetentionTest, ARestartRemovesWhatAnInterruptedDeletionLeft) {
  ASSERT_NO_FATAL_FAILURE(RunRounds(2));  // v1, v2, v3: v1 and v2 deleted
  ASSERT_EQ(FilesOnDisk(), (std::set<int64_t>{3}));
  // A crash between the mark and the removal leaves the file of a version marked deleted.
  { std::ofstream(ModelFile(2)) << "left behind"; }
  server_->Shutdown();
  server_ = testing::StartAggregatorOrFail(config_, &port_);
  ASSERT_TRUE(server_);
  EXPECT_EQ(FilesOnDisk(), (std::set<int64_t>{3}));
  // The listing after the restart: the marks are durable.
  std::set<int64_t> kept, deleted;
  int64_t promoted = 0;
  ASSERT_NO_FATAL_FAILURE(Listed(&kept, &deleted, &promoted));
  EXPECT_EQ(kept, (std::set<int64_t>{3}));
  EXPECT_EQ(deleted, (std::set<int64_t>{1, 2}));
}

}  // namespace
}  // namespace fedlog
