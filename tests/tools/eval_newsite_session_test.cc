// `fedlog eval newsite`'s session rows with labels (AddSessionLabelRows) on a small HDFS-style
// stream built at test time: blocks that write and acknowledge, a few that log an exception
// template instead. A labelled anomalous block's rare template marks the later blocks that log it.
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

std::string Line(int second, int block, const char* what) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "081109 %02d%02d%02d 143 INFO dfs.DataNode$PacketResponder: %s blk_%d",
                20 + second / 3600, (second / 60) % 60, second % 60, what, 9000 + block);
  return buf;
}

// 1,000 blocks, one every 2 s; every 150th (from 75) logs an exception after its three receives and
// is anomalous: 2 of the 300 or so blocks of the label pool (the stream's first 30%), 5 after it.
NewsiteStream SmallHdfs() {
  NewsiteStream s;
  s.system = "hdfs";
  s.unit = "block";
  s.format = "HDFS";
  s.session_pattern = "(blk_-?[0-9]+)";
  for (int b = 0; b < 1000; ++b) {
    const bool bad = b % 150 == 75;
    std::vector<std::string> lines(3, Line(2 * b, b, "Receiving block"));
    if (bad) {
      lines.push_back(
          Line(2 * b, b, "writeBlock received exception java.io.IOException: Could not read from"));
    } else {
      for (int k = 0; k < 3; ++k)
        lines.push_back(Line(2 * b, b, "PacketResponder terminating for"));
    }
    for (std::string& l : lines) {
      s.lines.push_back(std::move(l));
      s.units.push_back({b});
    }
    s.y.push_back(bad ? 1 : 0);
  }
  return s;
}

TEST(EvalNewsiteSessionTest, LabelledExceptionMarksTheLaterBlocksThatLogIt) {
  const NewsiteStream s = SmallHdfs();
  NewsiteOptions o;
  o.detector.session.shape.quiet_ms = 1000;
  o.detector.session.shape.quiet_lines = 12;  // when the stream's times are not read: two blocks
  o.shots = {2};
  o.seeds = 1;
  o.strategy = "random";
  absl::StatusOr<ScoredStream> sc = ScoreNewsiteStream(s, o);
  ASSERT_TRUE(sc.ok()) << sc.status();
  absl::StatusOr<KShotResult> k = EvaluateKShot(s, *sc, o);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_TRUE(AddSessionLabelRows(s, *sc, o, &*k).ok());
  const KShotRow* zero = nullptr;
  const KShotRow* labelled = nullptr;
  for (const KShotRow& r : k->rows) {
    if (r.method == "session detector (k=0, site threshold)") zero = &r;
    if (r.method == "session detector + labels" && r.k == 2) labelled = &r;
  }
  ASSERT_NE(zero, nullptr);
  ASSERT_NE(labelled, nullptr);
  EXPECT_EQ(labelled->labels, 4);
  EXPECT_EQ(labelled->strategy, "random");
  // Two labelled exception blocks mark every later one: all are alerted, and they rank on top.
  EXPECT_EQ(labelled->recall, 1.0);
  EXPECT_EQ(labelled->auroc, 1.0);
  EXPECT_GT(labelled->f1, 0.8);
  EXPECT_EQ(zero->k, 0);
}

// Active session selection and the pool's best verdicts: the rows exist for k, use at most 2k
// session verdicts, and the oracle (chosen with the test labels) is at least the k = 0 detector.
TEST(EvalNewsiteSessionTest, ActiveSessionVerdictsAndTheBestOfThePool) {
  const NewsiteStream s = SmallHdfs();
  NewsiteOptions o;
  o.detector.session.shape.quiet_ms = 1000;
  o.detector.session.shape.quiet_lines = 12;
  o.shots = {2};
  o.seeds = 2;
  absl::StatusOr<ScoredStream> sc = ScoreNewsiteStream(s, o);
  ASSERT_TRUE(sc.ok()) << sc.status();
  absl::StatusOr<KShotResult> k = EvaluateKShot(s, *sc, o);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_TRUE(AddSessionLabelRows(s, *sc, o, &*k).ok());
  const KShotRow *active = nullptr, *oracle = nullptr, *random = nullptr, *whole = nullptr;
  const KShotRow* zero = nullptr;
  for (const KShotRow& r : k->rows) {
    if (r.method == "session detector (k=0, site threshold)") zero = &r;
    if (r.method == "session detector + labels" && r.strategy == "active") active = &r;
    if (r.method == "session detector + labels" && r.strategy == "random") random = &r;
    if (r.strategy == "oracle") oracle = &r;
    if (r.method == "session detector + labels [whole stream]" && r.strategy == "random") whole = &r;
  }
  ASSERT_NE(active, nullptr);
  ASSERT_NE(oracle, nullptr);
  ASSERT_NE(random, nullptr);
  ASSERT_NE(whole, nullptr);
  ASSERT_NE(zero, nullptr);
  EXPECT_LE(active->labels, 4);
  EXPECT_GE(active->labels, 1);
  EXPECT_GE(oracle->f1, zero->f1 - 1e-9);
  EXPECT_EQ(active->recall, 1.0);  // the exception blocks' group alerts
}

}  // namespace
}  // namespace fedlog::offline
