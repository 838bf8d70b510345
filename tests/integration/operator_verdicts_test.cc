// The operator's verdicts in the federation's kind counts, end to end over real mTLS (client/site_verdicts.h,
// docs/LABELING.md "What the federation learns from your verdicts"): sites whose only labels are verdicts in
// their detect.db (`fedlog feedback`, `fedlog label`) upload kind counts that reach the new model's manifest,
// while the store's imported labels-file rows are not counted again; a site whose detect.db is damaged still
// completes the round with its labels file's counts, and says so.
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/detect/detect_store.h"
#include "client/detect/label_verdicts.h"
#include "client/site_daemon.h"
#include "common/base/file_util.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/line_parser.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

constexpr char kPacket[] = "081109 203612 INFO dfs.DataNode: PacketResponder 7 for block terminating";
constexpr char kVerified[] = "081109 203612 INFO dfs.DataNode: Verification succeeded for blk_9";
constexpr char kSession[] = "081109 203612 INFO dfs.DataNode: session opened for user u7 by (uid=3)";

uint64_t KindOf(const std::string& line) {
  auto parser = logparse::CreateLineParser("HDFS");
  EXPECT_TRUE(parser.ok());
  logparse::ParsedLine parsed;
  (*parser)->Parse(line, &parsed);
  return kinds::KindSignature(parsed.content).value_or(0);
}

class OperatorVerdictsTest : public testing::AggregatorTest {
 protected:
  void SetUp() override { StartAggregator("fedlog_operator_verdicts", {"site-a", "site-b"}); }

  // A daemon for `site` on WriteLog's 300 lines, without a labels file unless `labels_file`.
  client::SiteDaemon* Start(const std::string& site, bool labels_file) {
    const std::string log = testing::WriteLog(dir_, site, 300, static_cast<int>(site.back()));
    v1::ClientConfig config = testing::ClientConfigFor(pki_, site, server_->port(), JoinPath(dir_, site), log);
    if (labels_file) config.mutable_sources(0)->set_labels(testing::WritePacketResponderLabels(dir_, site, log));
    EXPECT_TRUE(MakeDirs(config.data_dir(), true).ok());
    return daemons_.Start(config);
  }

  // The operator's verdicts on `site`'s log (written by Start) in its detect.db: its first 6 PacketResponder lines anomalous (alert
  // verdicts) and its first 6 Verification lines normal (`fedlog label`); and an imported labels-file row
  // calling a "session opened" line anomalous, which is not a verdict.
  void WriteVerdicts(const std::string& site) {
    ASSERT_TRUE(MakeDirs(JoinPath(dir_, site), true).ok());
    auto store = client::detect::DetectStore::Open(JoinPath(JoinPath(dir_, site), "detect.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    std::ifstream in(JoinPath(dir_, site + ".log"));
    std::string line;
    int packet = 0, verified = 0, n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.find("PacketResponder") != std::string::npos && packet < 6) {
        ASSERT_TRUE((*store)->AddLabel({"HDFS", line, 1, {}, {}, absl::StrCat("feedback:", site, "-", n)}, 1).ok());
        ++packet;
      } else if (line.find("Verification") != std::string::npos && verified < 6) {
        ASSERT_TRUE(
            (*store)->AddLabel({"HDFS", line, 0, {}, {}, client::detect::LineVerdictOrigin("HDFS", line)}, 1).ok());
        ++verified;
      } else if (line.find("session opened") != std::string::npos) {
        ASSERT_TRUE((*store)->AddLabel({"HDFS", line, 1, {}, {}, absl::StrCat("labels_file:", n)}, 1).ok());
      }
    }
    ASSERT_EQ(packet, 6);
    ASSERT_EQ(verified, 6);
  }

  // Runs one plain round with both sites; returns the kind counts of the manifest site-a fetched.
  v1::ModelManifest RunOneRound() {
    v1::StartRunRequest req;
    req.mutable_plan()->set_rounds(1);
    req.mutable_plan()->set_min_sites(2);
    req.mutable_plan()->set_round_deadline_s(30);
    req.mutable_plan()->mutable_training()->set_local_epochs(1);
    const v1::RunStatus started = StartRun(req);
    const v1::RunStatus done = WaitFinished(started.run_id());
    EXPECT_EQ(done.state(), "done") << done.ShortDebugString();
    v1::ModelManifest m;
    if (done.rounds_size() == 0) return m;
    const int64_t version = done.rounds(done.rounds_size() - 1).model_version();
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<std::string> bytes = ReadFile(JoinPath(JoinPath(dir_, "site-a"), "promoted_model.manifest"));
      if (bytes.ok() && m.ParseFromString(*bytes) && m.version() == version) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(m.version(), version);
    return m;
  }

  static kinds::KindSketch SketchOf(const v1::ModelManifest& m) {
    EXPECT_EQ(m.kind_counts_size(), 1);
    if (m.kind_counts_size() != 1) return {};
    const v1::KindCounts& k = m.kind_counts(0);
    EXPECT_EQ(k.source(), "HDFS");
    auto sketch = kinds::KindSketch::FromSparse(std::vector<uint32_t>(k.bucket().begin(), k.bucket().end()),
                                                std::vector<double>(k.count().begin(), k.count().end()));
    EXPECT_TRUE(sketch.ok()) << sketch.status();
    return sketch.ok() ? *sketch : kinds::KindSketch();
  }
};

TEST_F(OperatorVerdictsTest, SitesWithOnlyVerdictsUploadKindCounts) {
  // The verdicts are in the store before the round (the daemon reads it when it builds its update).
  for (const char* site : {"site-a", "site-b"}) ASSERT_NE(Start(site, /*labels_file=*/false), nullptr);
  for (const char* site : {"site-a", "site-b"}) WriteVerdicts(site);
  const kinds::KindSketch sketch = SketchOf(RunOneRound());
  // Each site's 6 verdicts of a kind, capped at kSiteBucketCap per site, summed.
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(kPacket)), 2 * kinds::kSiteBucketCap);
  EXPECT_DOUBLE_EQ(sketch.Normal(KindOf(kVerified)), 2 * kinds::kSiteBucketCap);
  const kinds::KindVerdictOptions options;
  EXPECT_EQ(sketch.VerdictOf(KindOf(kPacket), options), kinds::KindVerdict::kAnomalous);
  EXPECT_EQ(sketch.VerdictOf(KindOf(kVerified), options), kinds::KindVerdict::kNormal);
  // The imported labels-file rows are not verdicts (and these sites have no labels file).
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(kSession)) + sketch.Normal(KindOf(kSession)), 0);
}

TEST_F(OperatorVerdictsTest, ADamagedVerdictStoreDoesNotStopTheRound) {
  ASSERT_TRUE(MakeDirs(JoinPath(dir_, "site-a"), true).ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(JoinPath(dir_, "site-a"), "detect.db"), std::string(8192, 'x')).ok());
  client::SiteDaemon* a = Start("site-a", /*labels_file=*/true);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(Start("site-b", /*labels_file=*/false), nullptr);
  const kinds::KindSketch sketch = SketchOf(RunOneRound());
  // site-a's labels file still counts: its PacketResponder lines, capped.
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(kPacket)), kinds::kSiteBucketCap);
  EXPECT_GE(a->kind_verdicts_unread(), 1);
}

}  // namespace
}  // namespace fedlog
