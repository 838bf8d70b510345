// Real mTLS on loopback: an in-process aggregator and site daemons run federated rounds; the aggregator is
// restarted mid-run and resumes from SQLite.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/line_parser.h"
#include "gtest/gtest.h"
#include "server/aggregator_server.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using testing::AdminStub;

class FederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_fed");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "site-c"}));
  }

  void StartServer(int port = 0, bool keep_updates = false) {
    v1::ServerConfig config = testing::ServerConfigFor(pki_, JoinPath(dir_, "agg"), port);
    config.set_keep_updates(keep_updates);
    auto s = server::AggregatorServer::Start(config);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  // `labelled`: a labels file marks every PacketResponder line anomalous and every other line normal.
  void StartSite(const std::string& site, bool labelled = false) {
    std::string log = testing::WriteLog(dir_, site, 300, static_cast<int>(site.back()));
    v1::ClientConfig config = testing::ClientConfigFor(pki_, site, server_->port(), JoinPath(dir_, site), log);
    if (labelled) {
      const std::string labels = testing::WritePacketResponderLabels(dir_, site, log);
      ASSERT_FALSE(labels.empty());
      config.mutable_sources(0)->set_labels(labels);
    }
    auto d = client::SiteDaemon::Create(config);
    ASSERT_TRUE(d.ok()) << d.status();
    client::SiteDaemon* raw = d->get();
    daemons_.push_back(std::move(*d));
    threads_.emplace_back([raw] { EXPECT_TRUE(raw->Run().ok()); });
  }

  void TearDown() override {
    for (auto& d : daemons_) d->Stop();
    for (auto& t : threads_) t.join();
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  v1::RunStatus StartRun(int rounds, int min_sites) {
    v1::StartRunRequest req;
    req.mutable_plan()->set_rounds(rounds);
    req.mutable_plan()->set_min_sites(min_sites);
    req.mutable_plan()->set_round_deadline_s(30);
    req.mutable_plan()->mutable_training()->set_local_epochs(1);
    v1::RunStatus resp;
    grpc::ClientContext ctx;
    grpc::Status st = AdminStub(pki_, server_->port())->StartRun(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  // Polls the run until `pred` holds or 60 s pass.
  template <typename Pred>
  v1::RunStatus WaitRun(int64_t run_id, Pred pred) {
    auto stub = AdminStub(pki_, server_->port());
    v1::RunStatus s;
    for (int i = 0; i < 600; ++i) {
      grpc::ClientContext ctx;
      v1::GetRunRequest req;
      req.set_run_id(run_id);
      if (stub->GetRun(&ctx, req, &s).ok() && pred(s)) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "timed out; last state " << s.ShortDebugString();
    return s;
  }

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  std::vector<std::unique_ptr<client::SiteDaemon>> daemons_;
  std::vector<std::thread> threads_;
};

// Regular files under `dir` (recursively).
std::vector<std::filesystem::path> FilesUnder(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

int DoneRounds(const v1::RunStatus& s) {
  int n = 0;
  for (const auto& r : s.rounds()) n += r.state() == "done" ? 1 : 0;
  return n;
}

TEST_F(FederationTest, ThreeSitesCompleteTwoRounds) {
  StartServer();
  for (const char* s : {"site-a", "site-b", "site-c"}) StartSite(s);
  v1::RunStatus started = StartRun(2, 3);
  v1::RunStatus done = WaitRun(started.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; });
  ASSERT_EQ(done.state(), "done");
  ASSERT_EQ(DoneRounds(done), 2);
  int64_t previous = 0;
  for (const auto& r : done.rounds()) {
    if (r.state() != "done") continue;
    EXPECT_EQ(r.sites(), 3);
    EXPECT_EQ(r.samples(), 3 * 240);  // 300 lines each, 20% held out
    EXPECT_GT(r.mean_train_loss(), 0);
    EXPECT_GT(r.model_version(), previous);
    previous = r.model_version();
  }
  for (auto& d : daemons_) EXPECT_EQ(d->rounds_completed(), 2);
  // The last model is promoted and listed with its lineage.
  v1::ListModelsResponse models;
  grpc::ClientContext ctx;
  ASSERT_TRUE(AdminStub(pki_, server_->port())->ListModels(&ctx, {}, &models).ok());
  EXPECT_EQ(models.promoted_version(), previous);
  EXPECT_EQ(models.models(models.models_size() - 1).parent(), previous - 1);
  EXPECT_EQ(models.models(models.models_size() - 1).num_sites(), 3);
  // Every site fetches the promoted version for detection.
  for (const char* site : {"site-a", "site-b", "site-c"}) {
    v1::ModelManifest m;
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<std::string> bytes = ReadFile(JoinPath(JoinPath(dir_, site), "promoted_model.manifest"));
      if (bytes.ok() && m.ParseFromString(*bytes) && m.version() == previous) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(m.version(), previous) << site;
    EXPECT_TRUE(FileExists(JoinPath(JoinPath(dir_, site), "promoted_model.bundle")));
  }
  // Nothing kept that need not be: no site's individual update outlives its round, and model files are for the
  // aggregator's user only.
  EXPECT_TRUE(FilesUnder(JoinPath(JoinPath(dir_, "agg"), "updates")).empty());
  const std::vector<std::filesystem::path> models_on_disk = FilesUnder(JoinPath(JoinPath(dir_, "agg"), "models"));
  EXPECT_FALSE(models_on_disk.empty());
  for (const auto& f : models_on_disk) {
    const auto perms = std::filesystem::status(f).permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none)
        << f;
  }
}

// The federation's message-kind counts end to end (docs/DETECTION.md "The federation's kind verdicts"): labelled
// sites send theirs with a plain update, the aggregator sums them into the new model's manifest, which the sites
// fetch, and deletes them with the updates.
TEST_F(FederationTest, LabelledSitesKindCountsReachTheManifest) {
  StartServer();
  for (const char* s : {"site-a", "site-b"}) StartSite(s, /*labelled=*/true);
  v1::RunStatus started = StartRun(1, 2);
  v1::RunStatus done = WaitRun(started.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; });
  ASSERT_EQ(done.state(), "done");
  v1::ModelManifest m;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> bytes = ReadFile(JoinPath(JoinPath(dir_, "site-a"), "promoted_model.manifest"));
    if (bytes.ok() && m.ParseFromString(*bytes) && m.version() == done.rounds(0).model_version()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(m.kind_counts_size(), 1);
  EXPECT_EQ(m.kind_counts(0).source(), "HDFS");
  auto sketch = kinds::KindSketch::FromSparse(
      std::vector<uint32_t>(m.kind_counts(0).bucket().begin(), m.kind_counts(0).bucket().end()),
      std::vector<double>(m.kind_counts(0).count().begin(), m.kind_counts(0).count().end()));
  ASSERT_TRUE(sketch.ok()) << sketch.status();
  auto parser = logparse::CreateLineParser("HDFS");
  ASSERT_TRUE(parser.ok());
  auto kind_of = [&](const std::string& line) {
    logparse::ParsedLine parsed;
    (*parser)->Parse(line, &parsed);
    return kinds::KindSignature(parsed.content).value_or(0);
  };
  const kinds::KindVerdictOptions options;
  EXPECT_EQ(sketch->VerdictOf(kind_of("081109 203612 INFO dfs.DataNode: PacketResponder 7 for block terminating"),
                              options),
            kinds::KindVerdict::kAnomalous);
  EXPECT_EQ(sketch->VerdictOf(kind_of("081109 203612 INFO dfs.DataNode: Verification succeeded for blk_9"), options),
            kinds::KindVerdict::kNormal);
  // Both sites' lines are in the sum, each site's capped at kSiteBucketCap (the kind is all anomalous).
  double packet_units = 0;
  for (const char* site : {"site-a", "site-b"}) {
    std::ifstream in(JoinPath(dir_, std::string(site) + ".log"));
    std::string line;
    int packet_lines = 0;
    while (std::getline(in, line)) packet_lines += line.find("PacketResponder") != std::string::npos ? 1 : 0;
    packet_units += std::min<double>(packet_lines, kinds::kSiteBucketCap);
  }
  EXPECT_DOUBLE_EQ(
      sketch->Anomalous(kind_of("081109 203612 INFO dfs.DataNode: PacketResponder 7 for block terminating")),
      packet_units);
  EXPECT_TRUE(FilesUnder(JoinPath(JoinPath(dir_, "agg"), "updates")).empty());
}

TEST_F(FederationTest, KeepUpdatesKeepsEachSitesUpdateForDebugging) {
  StartServer(0, /*keep_updates=*/true);
  for (const char* s : {"site-a", "site-b"}) StartSite(s);
  v1::RunStatus started = StartRun(1, 2);
  v1::RunStatus done = WaitRun(started.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; });
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(FilesUnder(JoinPath(JoinPath(dir_, "agg"), "updates")).size(), 2u);
}

TEST_F(FederationTest, AggregatorRestartResumesRunFromSqlite) {
  StartServer();
  const int port = server_->port();
  StartSite("site-a");
  StartSite("site-b");
  v1::RunStatus started = StartRun(3, 2);
  WaitRun(started.run_id(), [](const v1::RunStatus& s) { return s.current_round() >= 1; });
  server_->Shutdown();
  server_.reset();
  StartServer(port);  // same data_dir, same port: the daemons reconnect with backoff
  v1::RunStatus done = WaitRun(started.run_id(), [](const v1::RunStatus& s) { return s.state() == "done"; });
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(DoneRounds(done), 3);
  std::set<int> rounds;
  for (const auto& r : done.rounds()) {
    if (r.state() == "done") {
      EXPECT_TRUE(rounds.insert(r.round()).second) << "round " << r.round() << " twice";
    }
  }
  EXPECT_EQ(rounds, (std::set<int>{1, 2, 3}));
}

}  // namespace
}  // namespace fedlog
