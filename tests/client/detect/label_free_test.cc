// Label-free live detection: with detect.expected_alert_rate set and no model, a source's lines are
// scored by common/novelty; an unusual error line alerts and its alert says which signals fired; with
// detect.session_pattern a session that breaks the usual count relations alerts when it goes quiet.
#include <cstdio>
#include <deque>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/detect/detector.h"
#include "client/detect/line_pipeline.h"
#include "common/base/file_util.h"
#include "common/novelty/scorer.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

constexpr char kOdd[] =
    "081109 204000 99 ERROR dfs.DataNode: Exception in receiveBlock for block blk_77 "
    "java.io.IOException: Connection reset by peer";

TEST(LabelFreeTest, PipelineWithoutModelScoresAndNamesSignals) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  LineResult r;
  (*p)->Process(0, testing::HdfsLine(0), &r);
  EXPECT_LT(r.score, 0);  // not enabled: unscored, as before
  novelty::NoveltyOptions o;
  o.expected_alert_rate = 0.02;
  ASSERT_TRUE((*p)->EnableLabelFree(o).ok());
  int alerts = 0;
  for (int i = 0; i < 2000; ++i) {
    (*p)->Process(0, testing::HdfsLine(i), &r);
    EXPECT_GE(r.score, 0);
    alerts += r.alert ? 1 : 0;
  }
  EXPECT_LE(alerts, 2000 * 0.02 * 1.5);
  (*p)->Process(0, kOdd, &r);
  EXPECT_TRUE(r.alert);
  EXPECT_NE(r.signals & (1u << novelty::kTemplate), 0u);
  EXPECT_NE(r.signals & (1u << novelty::kSeverity), 0u);
  o.expected_alert_rate = 0;
  EXPECT_FALSE((*p)->EnableLabelFree(o).ok());
}

// Live detection ranks within the severity level as `fedlog eval newsite` measures it: on a BGL
// source, a severe event that keeps recurring outranks a one-off FATAL register dump line; with the
// within-level terms off (detect.label_free_* < 0) the dump's rarity wins.
TEST(LabelFreeTest, RecurringSevereEventOutranksASevereRegisterDump) {
  auto bgl = [](int i, const char* level, const std::string& message) {
    const std::string node = "R0" + std::to_string(i % 8) + "-M1-N5-C:J15-U11";
    return "- " + std::to_string(1118709403 + 7 * i) + " 2005.06.13 " + node +
           " 2005-06-13-17.36.43.927885 " + node + " RAS KERNEL " + level + " " + message;
  };
  for (bool within : {true, false}) {
    auto p = LinePipeline::Create({{"BGL", "BGL", {}}});
    ASSERT_TRUE(p.ok()) << p.status();
    novelty::NoveltyOptions o;
    o.expected_alert_rate = 0.01;
    if (!within) o.within_level = o.recurrence_weight = o.report_weight = o.fixed_weight = 0;
    ASSERT_TRUE((*p)->EnableLabelFree(o).ok());
    LineResult r;
    int i = 0;
    for (int k = 0; k < 30; ++k) {
      for (int j = 0; j < 30; ++j, ++i) {
        (*p)->Process(0, bgl(i, "INFO", j % 2 ? "instruction cache parity error corrected"
                                               : "generating core." + std::to_string(i)), &r);
      }
      (*p)->Process(0, bgl(i++, "FATAL", "data storage interrupt"), &r);
    }
    (*p)->Process(0, bgl(i++, "FATAL", "data storage interrupt"), &r);
    const double incident = r.score;
    (*p)->Process(0, bgl(i++, "FATAL", "machine state register: 0x00002000"), &r);
    const double dump = r.score;
    if (within) {
      EXPECT_GT(incident, dump);
    } else {
      EXPECT_LT(incident, dump);
    }
  }
}

// The warm-up hold in live detection: an incident that starts with the stream is held, then its lines
// alert when the source reaches hold_lines lines (TakeHeldAlerts, with their message); the hold's wall
// time bound ends a hold early.
TEST(LabelFreeTest, HeldLinesAlertWhenTheHoldEnds) {
  auto bgl = [](int i, const char* level, const std::string& message) {
    const std::string node = "R0" + std::to_string(i % 8) + "-M1-N5-C:J15-U11";
    return "- " + std::to_string(1118709403 + 7 * i) + " 2005.06.13 " + node +
           " 2005-06-13-17.36.43.927885 " + node + " RAS KERNEL " + level + " " + message;
  };
  auto p = LinePipeline::Create({{"BGL", "BGL", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  novelty::NoveltyOptions o;
  o.expected_alert_rate = 0.01;
  o.hold_lines = 300;
  ASSERT_TRUE((*p)->EnableLabelFree(o).ok());
  LineResult r;
  std::vector<LabelFreeScorer::HeldAlert> held;
  for (int i = 0; i < 400; ++i) {
    const bool bad = i < 300 && i % 10 == 0;
    (*p)->Process(0, bad ? bgl(i, "FATAL", "data TLB error interrupt")
                         : bgl(i, "INFO", i % 2 ? "instruction cache parity error corrected"
                                                : "generating core." + std::to_string(i)), &r);
    if (i < 300) {
      EXPECT_FALSE(r.alert) << i;
    }
    (*p)->TakeHeldAlerts(&held);
    if (i == 298) {
      EXPECT_TRUE(held.empty());
    }
  }
  // The compact threshold rule (the default) cuts at the incident cluster's lowest bin; the stream's
  // first line, scored with no history (no novelty terms), sits just below it. Every other incident
  // line alerts at release, and nothing else does.
  ASSERT_GE(held.size(), 29u);
  ASSERT_LE(held.size(), 30u);
  EXPECT_EQ(held.front().verdict.line_index, held.size() == 30u ? 0 : 10);
  for (const LabelFreeScorer::HeldAlert& h : held) {
    EXPECT_EQ(h.verdict.line_index % 10, 0);
    EXPECT_TRUE(h.verdict.alert);
    EXPECT_TRUE(absl::StrContains(h.line, "data TLB error interrupt")) << h.line;
  }
  // A wall-time bound ends a hold that the line count has not.
  auto q = LinePipeline::Create({{"BGL", "BGL", {}}});
  ASSERT_TRUE(q.ok()) << q.status();
  o.hold_lines = 100000;
  ASSERT_TRUE((*q)->EnableLabelFree(o).ok());
  for (int i = 0; i < 300; ++i) {
    (*q)->Process(0, i % 10 == 0 ? bgl(i, "FATAL", "data TLB error interrupt")
                                 : bgl(i, "INFO", "instruction cache parity error corrected"), &r);
  }
  (*q)->ReleaseHeldAfter(1000, 600000);  // starts the clock
  held.clear();
  (*q)->TakeHeldAlerts(&held);
  EXPECT_TRUE(held.empty());
  (*q)->ReleaseHeldAfter(1000 + 600000, 600000);
  (*q)->TakeHeldAlerts(&held);
  EXPECT_FALSE(held.empty());
  (*q)->Process(0, bgl(300, "FATAL", "data TLB error interrupt"), &r);  // no longer held
  EXPECT_GT(r.threshold, 0);
}

// The budget window in live detection (detect.label_free_budget_window,
// NoveltyOptions::budget_window): after a quiet start a third of the lines are distinct FATAL job
// errors for a while. The threshold alone (a quantile over the whole stream so far) alerts them
// all, far past the budget over that stretch; with the window no run of 1,000 lines (nor the
// stream's start) holds more alerts than the budget's share of 1,000 lines.
TEST(LabelFreeTest, BudgetWindowBoundsTheAlertsOverEveryStretch) {
  auto bgl = [](int i, const char* level, const std::string& message) {
    const std::string node = "R0" + std::to_string(i % 8) + "-M1-N5-C:J15-U11";
    return "- " + std::to_string(1118709403 + 7 * i) + " 2005.06.13 " + node +
           " 2005-06-13-17.36.43.927885 " + node + " RAS KERNEL " + level + " " + message;
  };
  constexpr int kWindow = 1000;
  auto worst_over = [&](int64_t window) {
    auto p = LinePipeline::Create({{"BGL", "BGL", {}}});
    EXPECT_TRUE(p.ok()) << p.status();
    novelty::NoveltyOptions o;
    o.expected_alert_rate = 0.01;
    o.max_alert_rate = 0.01;  // no adaptation, so no incident cluster: every alert counts
    o.budget_window = window;
    EXPECT_TRUE((*p)->EnableLabelFree(o).ok());
    LineResult r;
    std::deque<int> recent;
    int in_window = 0, over = 0, alerts = 0;
    for (int i = 0; i < 4000; ++i) {
      const bool job_error = i >= 2500 && i < 3100 && i % 3 == 0;
      const std::string error = "ciod: job " + std::to_string(i) + " failed on node " +
                                std::to_string(7 * i) + " with code " + std::to_string(i % 97);
      const std::string routine = i % 2 ? "instruction cache parity error corrected"
                                        : "generating core." + std::to_string(i % 50);
      (*p)->Process(0, job_error ? bgl(i, "FATAL", error) : bgl(i, "INFO", routine), &r);
      recent.push_back(r.alert ? 1 : 0);
      in_window += recent.back();
      alerts += recent.back();
      if (static_cast<int>(recent.size()) > kWindow) {
        in_window -= recent.front();
        recent.pop_front();
      }
      if (in_window > static_cast<int>(0.01 * kWindow)) ++over;
    }
    EXPECT_GT(alerts, 0);
    return over;
  };
  EXPECT_GT(worst_over(0), 100);     // off: the stretch of job errors breaks the budget
  EXPECT_EQ(worst_over(kWindow), 0);  // on: never
}

// The site's labels move the label-free threshold: once the operator labels lines like kOdd normal
// and a rarer one anomalous, kOdd no longer alerts.
TEST(LabelFreeTest, LabelsMoveTheLabelFreeThreshold) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  novelty::NoveltyOptions o;
  o.expected_alert_rate = 0.02;
  o.label_prior = 0.01;  // trust the labels at once
  // Few-shot off (fewshot_match -1): with it on, line labels go to LiveFewShot's own threshold and
  // leave this one label-free (live_fewshot_test).
  ASSERT_TRUE((*p)->EnableLabelFree(o, "", -1).ok());
  LineResult r;
  for (int i = 0; i < 2000; ++i) (*p)->Process(0, testing::HdfsLine(i), &r);
  (*p)->Process(0, kOdd, &r);
  ASSERT_TRUE(r.alert);
  const float before = r.threshold;
  const std::string worse =
      "081109 204001 99 FATAL dfs.DataNode: PacketResponder crashed: disk failure, volume severed";
  std::vector<std::tuple<int, std::string, int>> labels;
  for (int i = 0; i < 5; ++i) labels.emplace_back(0, kOdd, 0);
  labels.emplace_back(0, worse, 1);
  labels.emplace_back(7, worse, 1);  // an unknown source index is ignored
  (*p)->SetLabelFreeLabels(labels);
  (*p)->Process(0, kOdd, &r);
  EXPECT_FALSE(r.alert);
  EXPECT_GT(r.threshold, before);
  (*p)->SetLabelFreeLabels({});  // labels withdrawn: back to the label-free threshold
  (*p)->Process(0, testing::HdfsLine(5), &r);
  EXPECT_NEAR(r.threshold, before, 0.5);
}

// Runs `d` until its alerts file has a line containing `needle` (at most 20 s), stops it, and returns that
// line ("" when none came).
std::string RunUntilAlert(Detector& d, const DetectOptions& o, absl::string_view needle) {
  absl::Status run;
  std::thread t([&] { run = d.Run(); });
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string jsonl;
  while (absl::Now() < deadline) {
    auto text = ReadFile(o.alerts_file);
    if (text.ok() && absl::StrContains(*text, needle)) {
      jsonl = *text;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  d.Stop();
  t.join();
  EXPECT_TRUE(run.ok()) << run;
  std::string alert;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n')) {
    if (absl::StrContains(line, needle)) alert = std::string(line);
  }
  return alert;
}

TEST(LabelFreeTest, DetectorWithoutModelWritesAlertsWithSignals) {
  const std::string dir = testing::FreshDir("labelfree");
  const std::string log = dir + "/app.log";
  const DetectOptions o = testing::HdfsDetectOptions(dir, log);
  {
    std::ofstream f(log);
    for (int i = 0; i < 1500; ++i) f << testing::HdfsLine(i) << "\n";
    f << kOdd << "\n";
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string odd_alert = RunUntilAlert(**d, o, "Connection reset");
  ASSERT_FALSE(odd_alert.empty()) << "no alert for the odd line";
  EXPECT_TRUE(absl::StrContains(odd_alert, "\"signals\":\"template")) << odd_alert;
  EXPECT_TRUE(absl::StrContains(odd_alert, "severity")) << odd_alert;
  EXPECT_EQ((*d)->metrics().unscored_lines.load(), 0);
}

// One HDFS line of block `block` at `second` seconds after 20:00:00.
std::string BlockLine(int second, int block, const char* what) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "081109 %02d%02d%02d 143 INFO dfs.DataNode$PacketResponder: %s blk_%d",
                20 + second / 3600, (second / 60) % 60, second % 60, what, 9000 + block);
  return buf;
}

TEST(LabelFreeTest, DetectorAlertsOnASessionThatBreaksItsCountRelations) {
  const std::string dir = testing::FreshDir("labelfree_session");
  const std::string log = dir + "/hdfs.log";
  DetectOptions o = testing::HdfsDetectOptions(dir, log);
  o.session_pattern = "(blk_-?[0-9]+)";
  o.session_quiet_ms = 1000;
  o.session_incomplete_quiet_ms = 10000;  // the unacknowledged block waits 10 s (20 blocks), not 1
  {
    std::ofstream f(log);
    int second = 0;
    for (int b = 0; b < 320; ++b, second += 2) {
      const bool broken = b == 300;  // received three times, never acknowledged
      for (int k = 0; k < 3; ++k) f << BlockLine(second, b, "Receiving block") << "\n";
      if (broken) continue;
      for (int k = 0; k < 3; ++k) f << BlockLine(second, b, "Received block of size 67108864 from") << "\n";
      for (int k = 0; k < 3; ++k) f << BlockLine(second, b, "PacketResponder terminating for") << "\n";
    }
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string alert = RunUntilAlert(**d, o, "blk_9300");
  ASSERT_FALSE(alert.empty()) << "no session alert for the unacknowledged block";
  EXPECT_TRUE(absl::StrContains(alert, "\"signals\":\"session:invariant")) << alert;
  EXPECT_TRUE(absl::StrContains(alert, "count relations broken")) << alert;
  // Session alerts stay near the budget (1% of the 320 sessions; the quantile's bins and the
  // warm-up allow a few more), counted over everything written before Stop.
  auto all = ReadFile(o.alerts_file);
  ASSERT_TRUE(all.ok());
  const std::string jsonl = *all;
  int session_alerts = 0;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n')) {
    session_alerts += absl::StrContains(line, "\"signals\":\"session:") ? 1 : 0;
  }
  EXPECT_LE(session_alerts, 10) << jsonl;
}

// An operator's "whole template is normal" verdict hides a session alert that is rare only for that
// template, but never the record that withdraws an earlier alert (whole-unit or union): hiding it would
// leave the operator with an alert that the detector took back.
TEST(LabelFreeTest, ANormalTemplateVerdictNeverHidesAWithdrawal) {
  using S = LabelFreeScorer;
  S::SessionAlert sa;
  EXPECT_TRUE(S::HiddenByNormalTemplate(sa, true));
  EXPECT_FALSE(S::HiddenByNormalTemplate(sa, false));
  for (int withdrawal : {S::kWholeWithdrawn, S::kUnionWithdrawn}) {
    sa.whole_unit = withdrawal;
    EXPECT_FALSE(S::HiddenByNormalTemplate(sa, true)) << withdrawal;
  }
  sa.whole_unit = S::kWholeLateAlert;
  EXPECT_TRUE(S::HiddenByNormalTemplate(sa, true));
  sa.score.broken = true;  // a broken count relation is reported whatever its rarest template
  EXPECT_FALSE(S::HiddenByNormalTemplate(sa, true));
  sa.score.broken = false;
  sa.kind_verdict = 1;  // raised by the federation's kind verdict
  EXPECT_FALSE(S::HiddenByNormalTemplate(sa, true));
}

}  // namespace
}  // namespace fedlog::client::detect
