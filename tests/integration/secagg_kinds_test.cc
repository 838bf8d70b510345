// The federation's message-kind counts under secure aggregation, end to end over real mTLS (docs/PRIVACY.md
// "Message-kind counts", common/secagg/kind_sections.h): three site daemons run a secure round; two hold
// labelled lines, the third none. Their counts travel only in the masked kind section (a count in the clear
// header would be refused and fail the round), and the new model's manifest holds the unmasked sum: each
// labelled site's capped counts of a kind, and the verdicts the labels give.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
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

class SecAggKindsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("fedlog_secagg_kinds");
    pki_ = JoinPath(dir_, "pki");
    ASSERT_TRUE(testing::MakePki(pki_, {"site-a", "site-b", "site-c"}));
    auto s = server::AggregatorServer::Start(testing::ServerConfigFor(pki_, JoinPath(dir_, "agg")));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  void TearDown() override {
    for (auto& d : daemons_) d->Stop();
    for (auto& t : threads_) t.join();
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  // `labelled`: a labels file marks every PacketResponder line anomalous and every other line normal.
  void StartSite(const std::string& site, bool labelled) {
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

  std::string dir_, pki_;
  std::unique_ptr<server::AggregatorServer> server_;
  std::vector<std::unique_ptr<client::SiteDaemon>> daemons_;
  std::vector<std::thread> threads_;
};

TEST_F(SecAggKindsTest, LabelledSitesKindCountsReachTheManifestMasked) {
  StartSite("site-a", /*labelled=*/true);
  StartSite("site-b", /*labelled=*/true);
  StartSite("site-c", /*labelled=*/false);
  v1::StartRunRequest req;
  v1::RunPlan* plan = req.mutable_plan();
  plan->set_rounds(1);
  plan->set_min_sites(3);
  plan->set_round_deadline_s(60);
  plan->set_secure_aggregation(true);
  plan->set_secagg_step_s(5);
  plan->mutable_training()->set_local_epochs(1);
  auto admin = testing::AdminStub(pki_, server_->port());
  v1::RunStatus started;
  {
    grpc::ClientContext ctx;
    grpc::Status st = admin->StartRun(&ctx, req, &started);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  v1::RunStatus done = testing::WaitRun(admin.get(), started.run_id(), [](const v1::RunStatus& s) {
    return s.state() != "waiting" && s.state() != "running";
  });
  ASSERT_EQ(done.state(), "done") << done.ShortDebugString();
  ASSERT_TRUE(done.rounds(0).secure_aggregation());
  const int64_t version = done.rounds(done.rounds_size() - 1).model_version();
  v1::ModelManifest m;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> bytes = ReadFile(JoinPath(JoinPath(dir_, "site-c"), "promoted_model.manifest"));
    if (bytes.ok() && m.ParseFromString(*bytes) && m.version() == version) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(m.version(), version);
  ASSERT_EQ(m.kind_counts_size(), 1);
  EXPECT_EQ(m.kind_counts(0).source(), "HDFS");
  EXPECT_EQ(m.kind_counts_carried_size(), 0);  // the round brought its own
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
  const uint64_t packet = kind_of("081109 203612 INFO dfs.DataNode: PacketResponder 7 for block terminating");
  const kinds::KindVerdictOptions options;
  EXPECT_EQ(sketch->VerdictOf(packet, options), kinds::KindVerdict::kAnomalous);
  EXPECT_EQ(sketch->VerdictOf(kind_of("081109 203612 INFO dfs.DataNode: Verification succeeded for blk_9"), options),
            kinds::KindVerdict::kNormal);
  // Each labelled site's PacketResponder lines, capped at kSiteBucketCap per site, summed within the
  // quantisation error; the unlabelled site added nothing.
  double want = 0;
  for (const char* site : {"site-a", "site-b"}) {
    std::ifstream in(JoinPath(dir_, std::string(site) + ".log"));
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) lines += line.find("PacketResponder") != std::string::npos ? 1 : 0;
    want += std::min<double>(lines, kinds::kSiteBucketCap);
  }
  EXPECT_NEAR(sketch->Anomalous(packet), want, 1e-3);
}

}  // namespace
}  // namespace fedlog
