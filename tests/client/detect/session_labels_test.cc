// Session labels in live label-free detection: a labelled line that carries a session labels that
// session, and the session threshold moves with it at once (LinePipeline::SetLabelFreeLabels ->
// LabelFreeScorer -> novelty::SessionScorer::AddLabel); a line of a session still open labels it
// when it closes. A "whole template is normal" verdict stops the alert of a session that is rare
// only for that template.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/detect/detect_store.h"
#include "client/detect/detector.h"
#include "client/detect/label_verdicts.h"
#include "client/detect/line_pipeline.h"
#include "common/base/file_util.h"
#include "common/fewshot/fewshot.h"
#include "common/novelty/scorer.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

// One HDFS line of block blk_(9000 + block) at `second` seconds after 20:00:00.
std::string Line(int second, int block, const char* what) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "081109 %02d%02d%02d 143 INFO dfs.DataNode$PacketResponder: %s blk_%d",
                20 + second / 3600, (second / 60) % 60, second % 60, what, 9000 + block);
  return buf;
}

class SessionLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
    ASSERT_TRUE(p.ok()) << p.status();
    pipeline_ = std::move(*p);
    novelty::NoveltyOptions o;
    o.expected_alert_rate = 0.01;
    o.label_prior = 0.01;  // trust the labels at once
    o.session.shape.quiet_ms = 1000;
    o.session.shape.incomplete_quiet_ms = 10000;  // an unacknowledged block is judged 10 s after
    ASSERT_TRUE(pipeline_->EnableLabelFree(o, "(blk_-?[0-9]+)").ok());
  }

  // Block `b` at second_: received three times, then (unless `broken`) acknowledged.
  void Block(int b, bool broken) {
    for (int k = 0; k < 3; ++k) Process(Line(second_, b, "Receiving block"));
    if (!broken) {
      for (int k = 0; k < 3; ++k) Process(Line(second_, b, "Received block of size 67108864 from"));
      for (int k = 0; k < 3; ++k) Process(Line(second_, b, "PacketResponder terminating for"));
    }
    second_ += 2;
  }
  void Process(const std::string& line) {
    LineResult r;
    pipeline_->Process(0, line, &r);
    std::vector<LabelFreeScorer::SessionAlert> alerts;
    pipeline_->TakeSessionAlerts(&alerts);
    alerts_ += static_cast<int>(alerts.size());
  }

  std::unique_ptr<LinePipeline> pipeline_;
  int second_ = 0;
  int alerts_ = 0;
};

TEST_F(SessionLabelsTest, ALabelledLineLabelsItsSessionAndMovesTheSessionThreshold) {
  for (int b = 0; b < 300; ++b) Block(b, b == 250);
  Block(300, false);      // closes block 299's session and the ones before
  ASSERT_GE(alerts_, 1);  // the unacknowledged block 250
  EXPECT_EQ(pipeline_->session_labels(0), 0);
  // The operator confirms block 250 and calls block 10 normal (one line each); a line of a block
  // the detector never saw labels no session.
  std::vector<std::tuple<int, std::string, int>> labels = {
      {0, Line(500, 250, "Receiving block"), 1},
      {0, Line(20, 10, "Received block of size 67108864 from"), 0},
      {0, Line(20, 777, "Receiving block"), 0}};
  pipeline_->SetLabelFreeLabels(labels);
  EXPECT_EQ(pipeline_->session_labels(0), 2);
  // Given again (a verdict replaced): counted once per session, not added up.
  pipeline_->SetLabelFreeLabels(labels);
  EXPECT_EQ(pipeline_->session_labels(0), 2);
  // The threshold now sits between the labelled scores: another unacknowledged block still alerts,
  // usual ones do not.
  alerts_ = 0;
  for (int b = 301; b < 340; ++b) Block(b, b == 320);
  Block(340, false);
  EXPECT_EQ(alerts_, 1);
  pipeline_->SetLabelFreeLabels({});
  EXPECT_EQ(pipeline_->session_labels(0), 0);
}

TEST_F(SessionLabelsTest, ALineOfAnOpenSessionLabelsItWhenItCloses) {
  for (int b = 0; b < 200; ++b) Block(b, false);
  // Block 199 is still open (nothing came after it): its label waits for its score.
  pipeline_->SetLabelFreeLabels({{0, Line(0, 199, "Receiving block"), 1}});
  EXPECT_EQ(pipeline_->session_labels(0), 0);
  Block(200, false);  // 2 s later: block 199 went quiet
  EXPECT_EQ(pipeline_->session_labels(0), 1);
}

// Blocks `from`..`to` (excluded) at two seconds each: three receives, three acknowledgements, and
// for `odd` an extra exception line at the end (a rare template; no count relation broken).
void WriteBlocks(std::ofstream& f, int from, int to, int odd) {
  for (int b = from; b < to; ++b) {
    for (int k = 0; k < 3; ++k) f << Line(2 * b, b, "Receiving block") << "\n";
    for (int k = 0; k < 3; ++k) f << Line(2 * b, b, "PacketResponder terminating for") << "\n";
    if (b == odd)
      f << Line(2 * b, b, "writeBlock received exception java.io.IOException for") << "\n";
  }
}

// True when `alerts_file` holds a session alert (not a line alert) whose last line names `block`.
bool SessionAlerted(const std::string& alerts_file, int block) {
  auto text = ReadFile(alerts_file);
  if (!text.ok()) return false;
  for (absl::string_view a : absl::StrSplit(*text, '\n')) {
    if (absl::StrContains(a, "\"signals\":\"session:") &&
        absl::StrContains(a, absl::StrCat("blk_", 9000 + block, "\""))) {
      return true;
    }
  }
  return false;
}

TEST(SessionNormalTemplateTest, ATemplateDeclaredNormalStopsSessionAlertsRareOnlyForIt) {
  const std::string dir = testing::FreshDir("session_normal_template");
  const std::string log = dir + "/hdfs.log";
  DetectOptions o = testing::HdfsDetectOptions(dir, log);
  o.session_pattern = "(blk_-?[0-9]+)";
  o.session_quiet_ms = 1000;
  {
    std::ofstream f(log);
    WriteBlocks(f, 0, 305, 300);
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::Status run;
  std::thread t([&] { run = (*d)->Run(); });
  auto alerted = [&](int block) { return SessionAlerted(o.alerts_file, block); };
  ASSERT_TRUE(testing::WaitFor([&] { return alerted(300); })) << "no session alert for the exception block";
  {
    auto store = DetectStore::Open(DetectStorePath(o.data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    const std::string line =
        Line(600, 300, "writeBlock received exception java.io.IOException for");
    const std::string message = line.substr(line.find("writeBlock"));
    ASSERT_TRUE((*store)
                    ->AddLabel({"HDFS", line, 0, {}, {}, TemplateVerdictOrigin("HDFS", message)}, 1)
                    .ok());
  }
  absl::SleepFor(absl::Milliseconds(200));  // several label polls
  const int64_t before = (*d)->lines_processed();
  {
    std::ofstream f(log, std::ios::app);
    WriteBlocks(f, 305, 320, 310);
  }
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->lines_processed() >= before + 15 * 6 + 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  (*d)->Stop();
  t.join();
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_FALSE(alerted(310)) << *ReadFile(o.alerts_file);
  EXPECT_GT((*d)->metrics().alerts_suppressed_normal.load(), 0);
}

// Blocks `from`..`to` (excluded) as WriteBlocks, and the blocks in `replicated` also log a
// replication (a normal kind of block that is rare, so the session detector reports it).
void WriteReplicatedBlocks(std::ofstream& f, int from, int to, const std::vector<int>& replicated) {
  for (int b = from; b < to; ++b) {
    for (int k = 0; k < 3; ++k) f << Line(2 * b, b, "Receiving block") << "\n";
    for (int k = 0; k < 3; ++k) f << Line(2 * b, b, "PacketResponder terminating for") << "\n";
    if (std::find(replicated.begin(), replicated.end(), b) != replicated.end())
      f << Line(2 * b, b, "Starting thread to transfer block to 10.251.39.160:50010") << "\n";
  }
}

// `fedlog label`'s session verdict (origin "session:", label_verdicts.h) on one replicated block
// labels its group: the running detector stops reporting later blocks of the same shape at once,
// and the verdict is not a line label (the line threshold and the few-shot support ignore it).
TEST(SessionGroupVerdictTest, ANormalSessionVerdictSilencesItsGroupInLiveDetection) {
  const std::string dir = testing::FreshDir("session_group_verdict");
  const std::string log = dir + "/hdfs.log";
  DetectOptions o = testing::HdfsDetectOptions(dir, log);
  o.session_pattern = "(blk_-?[0-9]+)";
  o.session_quiet_ms = 1000;
  {
    std::ofstream f(log);
    WriteReplicatedBlocks(f, 0, 305, {300});
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::Status run;
  std::thread t([&] { run = (*d)->Run(); });
  auto alerted = [&](int block) { return SessionAlerted(o.alerts_file, block); };
  ASSERT_TRUE(testing::WaitFor([&] { return alerted(300); })) << "no session alert for the replication";
  {
    auto store = DetectStore::Open(DetectStorePath(o.data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    const std::string line = Line(600, 300, "Starting thread to transfer block to 10.251.39.160:50010");
    ASSERT_TRUE((*store)->AddLabel({"HDFS", line, 0, {}, {}, SessionVerdictOrigin("HDFS", line)}, 1).ok());
  }
  absl::SleepFor(absl::Milliseconds(200));  // several label polls
  const int64_t before = (*d)->lines_processed();
  {
    std::ofstream f(log, std::ios::app);
    WriteReplicatedBlocks(f, 305, 320, {310});
  }
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->lines_processed() >= before + 15 * 6 + 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  (*d)->Stop();
  t.join();
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_FALSE(alerted(310)) << *ReadFile(o.alerts_file);
}

// The same verdict given to the pipeline directly: it labels the session (counted once) but is no
// line label, and an anomalous verdict makes the group alert even below the threshold.
TEST_F(SessionLabelsTest, SessionVerdictsLabelTheSessionAndItsGroupOnly) {
  for (int b = 0; b < 300; ++b) Block(b, b == 250);
  Block(300, false);
  // An anomalous verdict on an ordinary block: its shape (the usual one) now always alerts.
  pipeline_->SetLabelFreeLabels({}, {{0, Line(20, 10, "Receiving block"), 1}});
  EXPECT_EQ(pipeline_->session_labels(0), 1);
  alerts_ = 0;
  for (int b = 301; b < 311; ++b) Block(b, false);
  Block(311, false);
  EXPECT_GE(alerts_, 10);
  // Normal instead: the usual shape is quiet again, and the unacknowledged one still alerts.
  pipeline_->SetLabelFreeLabels({}, {{0, Line(20, 10, "Receiving block"), 0}});
  alerts_ = 0;
  for (int b = 312; b < 330; ++b) Block(b, b == 320);
  Block(330, false);
  EXPECT_EQ(alerts_, 1);
}

// A normal verdict covers what it saw (novelty::SessionGroups): a lone WARN line of a block, called
// normal while its template had no count relations yet (the session broke none), does not silence
// the same lone line later, once every write has logged it and a lone one breaks those relations.
TEST_F(SessionLabelsTest, ANormalVerdictOnAnUnbrokenSessionLeavesBrokenOnesOfItsShapeAlerting) {
  const char* kWarn = "Unexpected error trying to delete block, BlockInfo not found in volumeMap";
  for (int b = 0; b < 150; ++b) Block(b, false);
  Process(Line(second_, 5, kWarn));  // block 5 again, alone: its own session
  second_ += 2;
  for (int b = 150; b < 160; ++b) Block(b, false);  // block 5's lone session closes
  pipeline_->SetLabelFreeLabels({}, {{0, Line(0, 5, kWarn), 0}});
  ASSERT_EQ(pipeline_->session_labels(0), 1);
  // Every write now logs the WARN line: it comes with the write's templates from now on.
  auto warn_block = [&](int b) {
    Process(Line(second_, b, kWarn));
    Block(b, false);
  };
  for (int b = 160; b < 400; ++b) warn_block(b);
  alerts_ = 0;
  for (int b : {20, 40, 60}) {  // lone WARN lines of old blocks: they break those relations
    Process(Line(second_, b, kWarn));
    second_ += 2;
    for (int k = 0; k < 10; ++k) warn_block(400 + 10 * (b / 20) + k);
  }
  for (int b = 440; b < 460; ++b) warn_block(b);  // past the incomplete wait
  EXPECT_EQ(alerts_, 3);
}

// HDFS blocks through a live pipeline with the label-free session detector: each block receives three
// times, acknowledges three times and logs `transfers` transfers; `alerts` counts session alerts.
struct BlockStream {
  std::unique_ptr<LinePipeline> pipeline;
  int second = 0;
  int alerts = 0;

  int withdrawn = 0;  // whole-unit withdrawals (not alerts)
  int union_withdrawn = 0;  // union-scoring withdrawals (detect.session_union_score; not alerts)
  // Withdrawals of a key with no standing alert (its last record was a withdrawal, or none): one
  // decision per key never writes these.
  int unbacked = 0;
  std::map<uint64_t, bool> standing;  // per key: its last record was an alert
  int late = 0;  // whole-unit late alerts (counted in `alerts` too)
  int late_against_union = 0;  // of those, at a close whose key's union was judged and did not alert

  static BlockStream Make(double lookup_match, fewshot::KindRule rule, bool whole_unit = false) {
    BlockStream s;
    auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
    if (!p.ok()) return s;
    novelty::NoveltyOptions o;
    o.expected_alert_rate = 0.01;
    o.session.shape.quiet_ms = 1000;
    o.session.shape.incomplete_quiet_ms = 10000;
    const double match = fewshot::FewShotOptions{}.match;
    if ((*p)->EnableLabelFree(o, "(blk_-?[0-9]+)", match, {}, lookup_match, rule, whole_unit).ok()) {
      s.pipeline = *std::move(p);
    }
    return s;
  }
  void Process(const std::string& line) {
    LineResult r;
    pipeline->Process(0, line, &r);
    std::vector<LabelFreeScorer::SessionAlert> a;
    pipeline->TakeSessionAlerts(&a);
    for (const LabelFreeScorer::SessionAlert& x : a) {
      (x.whole_unit == LabelFreeScorer::kWholeWithdrawn   ? withdrawn
       : x.whole_unit == LabelFreeScorer::kUnionWithdrawn ? union_withdrawn
                                                          : alerts) += 1;
      const bool withdrawal = x.whole_unit == LabelFreeScorer::kWholeWithdrawn ||
                              x.whole_unit == LabelFreeScorer::kUnionWithdrawn;
      late += x.whole_unit == LabelFreeScorer::kWholeLateAlert ? 1 : 0;
      if (x.whole_unit == LabelFreeScorer::kWholeLateAlert && x.score.whole && !x.score.union_alert) {
        ++late_against_union;
      }
      bool& stands = standing[x.score.session];
      if (withdrawal && !stands) ++unbacked;
      stands = !withdrawal;
    }
  }
  void Block(int b, int transfers) {
    for (int k = 0; k < 3; ++k) Process(Line(second, b, "Receiving block"));
    for (int k = 0; k < 3; ++k) Process(Line(second, b, "PacketResponder terminating for"));
    for (int k = 0; k < transfers; ++k) Process(Line(second, b, "Starting thread to transfer block to"));
    second += 2;
  }
};

// The label lookup (detect.session_lookup_match, fewshot::SessionLookup): a normal label on a
// replicated block silences later replicated blocks with the same tokens even when their shape
// differs (two transfers instead of one, so no group verdict covers them); without the lookup they
// keep alerting.
int ReplicatedBlockAlerts(double lookup_match) {
  BlockStream s = BlockStream::Make(lookup_match, fewshot::KindRule::kOff);
  if (s.pipeline == nullptr) return -1;
  for (int b = 0; b < 300; ++b) s.Block(b, b == 250 ? 1 : 0);
  s.Block(300, 0);
  s.pipeline->SetLabelFreeLabels({}, {{0, Line(0, 250, "Receiving block"), 0}});
  s.alerts = 0;
  for (int b = 301; b < 340; ++b) s.Block(b, b % 10 == 5 ? 2 : 0);  // 4 replicated blocks
  s.Block(340, 0);
  return s.alerts;
}

TEST(SessionLookupLiveTest, ANormalLabelSilencesBlocksWithTheSameTokensOfAnotherShape) {
  const int without = ReplicatedBlockAlerts(0);
  const int with = ReplicatedBlockAlerts(1.0);
  EXPECT_GE(without, 1);  // rare for the session detector, and no group verdict covers them
  EXPECT_EQ(with, 0);
}

// Unit-kind verdicts (detect.session_kind_rule, fewshot::SessionKinds): block 250 writes, pauses and
// then logs a transfer as a second session; a normal label on that session labels the block's kind
// at its close (3 receives, 3 acknowledgements, 1 transfer). Later blocks that log the same lines in
// one session have another shape (no group verdict covers them) but the same kind: the silence rule
// keeps them quiet, without it they alert.
int SameKindBlockAlerts(fewshot::KindRule rule) {
  BlockStream s = BlockStream::Make(0, rule);
  if (s.pipeline == nullptr) return -1;
  for (int b = 0; b < 300; ++b) {
    s.Block(b, 0);  // block 250 writes in its turn, and transfers 10 blocks later
    if (b == 260) s.Process(Line(s.second, 250, "Starting thread to transfer block to"));
  }
  s.Block(300, 0);
  s.pipeline->SetLabelFreeLabels({}, {{0, Line(0, 250, "Starting thread to transfer block to"), 0}});
  s.alerts = 0;
  for (int b = 301; b < 340; ++b) s.Block(b, b % 10 == 5 ? 1 : 0);  // 4 blocks of block 250's kind
  s.Block(340, 0);
  return s.alerts;
}

TEST(SessionKindsLiveTest, ANormalLabelSilencesLaterSessionsOfTheSameKindOnly) {
  EXPECT_GE(SameKindBlockAlerts(fewshot::KindRule::kOff), 1);
  EXPECT_EQ(SameKindBlockAlerts(fewshot::KindRule::kSilence), 0);
}

// Whole-unit decisions (detect.session_whole_unit, fewshot::SessionWholeUnits): block 250's kind with
// its transfer (3 receives, 3 acknowledgements, 1 transfer) is labelled normal as above. Later blocks
// log their transfer first, alone (a rare session that alerts), and their write as a second session:
// with whole-unit decisions the write's close finds the whole block of the normal kind and withdraws
// the transfer's alert; without them the alert stands. The pieces' own alerts are the same either way.
// `third_piece`: those blocks write once more, as a third session, after their whole kind was seen.
struct WholeUnitCounts {
  int alerts = -1, withdrawn = -1, union_withdrawn = -1, unbacked = -1, late = -1, late_against_union = -1;
};
WholeUnitCounts TransferFirstBlocks(bool whole_unit, bool third_piece = false) {
  BlockStream s = BlockStream::Make(0, fewshot::KindRule::kExact, whole_unit);
  if (s.pipeline == nullptr) return {};
  for (int b = 0; b < 300; ++b) {
    s.Block(b, 0);
    if (b == 260) s.Process(Line(s.second, 250, "Starting thread to transfer block to"));
  }
  s.Block(300, 0);
  s.pipeline->SetLabelFreeLabels({}, {{0, Line(0, 250, "Starting thread to transfer block to"), 0}});
  s.alerts = 0;
  for (int b = 301; b < 340; ++b) {
    if (b % 10 == 5) {  // the transfer first, then (2 s later, past the quiet wait) the write
      s.Process(Line(s.second, b, "Starting thread to transfer block to"));
      s.second += 2;
    }
    s.Block(b, 0);
    if (third_piece && b % 10 == 5) s.Block(b, 0);
  }
  s.Block(340, 0);
  return {s.alerts, s.withdrawn, s.union_withdrawn, s.unbacked, s.late, s.late_against_union};
}

TEST(SessionWholeUnitLiveTest, TheWholeBlockOfANormalKindWithdrawsItsFirstPiecesAlert) {
  const WholeUnitCounts off = TransferFirstBlocks(false);
  const WholeUnitCounts on = TransferFirstBlocks(true);
  EXPECT_GE(off.alerts, 1);  // the lone transfers alert
  EXPECT_EQ(off.withdrawn, 0);
  EXPECT_EQ(on.alerts, off.alerts);  // the pieces' own alerts are raised all the same
  EXPECT_GE(on.withdrawn, 1);
  EXPECT_LE(on.withdrawn, on.alerts);
  // Union scoring (on by default): without whole-unit decisions, the key's union (transfer and write,
  // the normal block's counts) no longer alerts at the write's close, so the transfer's alert is
  // withdrawn by the label-free detector itself.
  EXPECT_GE(off.union_withdrawn, 1);
  EXPECT_LE(off.union_withdrawn, off.alerts);
  EXPECT_EQ(off.unbacked, 0);
  EXPECT_EQ(on.unbacked, 0);
}

// Both on: the key has one decision that the kind rule on the whole and the union update
// (fewshot::SessionWholeUnits). The blocks write once more, as a third piece, after their whole kind's
// normal verdict withdrew the transfer's alert. Where the union no longer alerts, the transfer's
// detector alert is gone with it: no late alert comes back at the third piece (before one decision
// per key, a block whose union did not alert at its second and third pieces alerted late), and no
// key is withdrawn twice. A late alert still comes where the grown block's union alerts.
TEST(SessionWholeUnitLiveTest, WithUnionScoringTooAUnionThatDoesNotAlertHolds) {
  const WholeUnitCounts on = TransferFirstBlocks(true, /*third_piece=*/true);
  const WholeUnitCounts off = TransferFirstBlocks(false, /*third_piece=*/true);
  EXPECT_GE(on.withdrawn, 1);
  EXPECT_EQ(on.late_against_union, 0);
  EXPECT_GE(on.late, 1);
  EXPECT_EQ(on.unbacked, 0);
  EXPECT_EQ(off.unbacked, 0);
  EXPECT_EQ(off.late, 0);
}

}  // namespace
}  // namespace fedlog::client::detect
