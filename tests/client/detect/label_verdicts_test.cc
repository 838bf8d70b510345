// `fedlog label`'s verdicts in the labels store: their origins, and the running detector that stops
// alerting on a template the operator declared normal (label-free detection, no model).
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/detect/detector.h"
#include "client/detect/label_verdicts.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

TEST(LabelVerdictsTest, OriginsAreFeedbackAndTemplateVerdictsReadBack) {
  EXPECT_TRUE(absl::StartsWith(LineVerdictOrigin("HDFS", "a line"), "feedback:label:HDFS:"));
  EXPECT_NE(LineVerdictOrigin("HDFS", "a line"), LineVerdictOrigin("HDFS", "another line"));
  EXPECT_EQ(TemplateVerdictOrigin("HDFS", "Deleting block <BLK> file <*>"),
            "feedback:template:HDFS:Deleting block <BLK> file <*>");
  const std::vector<LabeledLine> labels = {
      {"HDFS", "x", 0, {}, {}, TemplateVerdictOrigin("HDFS", "Deleting block <BLK> file <*>")},
      {"HDFS", "y", 1, {}, {}, LineVerdictOrigin("HDFS", "y")},
      // An anomalous row under a template origin, and a source mismatch, are not verdicts of "normal".
      {"HDFS", "z", 1, {}, {}, TemplateVerdictOrigin("HDFS", "Served block <BLK> to <IP>")},
      {"BGL", "w", 0, {}, {}, TemplateVerdictOrigin("HDFS", "Verification succeeded for <BLK>")},
  };
  const active::NormalTemplates normal = NormalTemplatesFromLabels(labels);
  EXPECT_EQ(normal.size(), 1u);
  EXPECT_TRUE(normal.Covers("HDFS", "Deleting block <BLK> file <*>"));
  EXPECT_FALSE(normal.Covers("HDFS", "Served block <BLK> to <IP>"));
}

constexpr char kOdd[] =
    "081109 204000 99 ERROR dfs.DataNode: Exception in receiveBlock for block blk_%d "
    "java.io.IOException: Connection reset by peer";

std::string Odd(int i) { return absl::StrReplaceAll(kOdd, {{"%d", absl::StrCat(i)}}); }

TEST(LabelVerdictsTest, RunningDetectorStopsAlertingOnATemplateDeclaredNormal) {
  const std::string dir = testing::FreshDir("normaltemplate");
  const std::string log = dir + "/app.log";
  DetectOptions o;
  o.data_dir = dir + "/data";
  o.sources = {{"HDFS", "HDFS", {log}}};
  o.alerts_file = dir + "/alerts.jsonl";
  o.metrics_listen = "off";
  o.poll_interval_ms = 10;
  o.dedup_window_s = -1;
  o.rate_limit_per_min = -1;
  o.expected_alert_rate = 0.01;
  {
    std::ofstream f(log);
    for (int i = 0; i < 1500; ++i) f << testing::HdfsLine(i) << "\n";
    f << Odd(1) << "\n";
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::Status run;
  std::thread t([&] { run = (*d)->Run(); });
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto text = ReadFile(o.alerts_file);
        return text.ok() && absl::StrContains(*text, "blk_1 ");
      },
      absl::Seconds(10)))
      << "no alert for the odd line";
  // The operator declares the odd line's template normal (the template as the alert names it).
  std::string tmpl;
  for (absl::string_view line : absl::StrSplit(*ReadFile(o.alerts_file), '\n')) {
    if (!absl::StrContains(line, "blk_1 ")) continue;
    const size_t at = line.find("\"template\":\"") + 12;
    tmpl = std::string(line.substr(at, line.find('"', at) - at));
  }
  ASSERT_FALSE(tmpl.empty());
  {
    auto store = DetectStore::Open(DetectStorePath(o.data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)
                    ->AddLabel({"HDFS", Odd(1), 0, {}, {}, TemplateVerdictOrigin("HDFS", tmpl)}, 1)
                    .ok());
  }
  absl::SleepFor(absl::Milliseconds(200));  // several polls of the model watcher
  const int64_t lines_before = (*d)->lines_processed();
  {
    std::ofstream f(log, std::ios::app);
    for (int i = 2; i < 6; ++i) f << Odd(i) << "\n";
  }
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->lines_processed() >= lines_before + 4; },
                               absl::Seconds(10)));
  (*d)->Stop();
  t.join();
  EXPECT_TRUE(run.ok()) << run;
  const std::string jsonl = *ReadFile(o.alerts_file);
  for (int i = 2; i < 6; ++i)
    EXPECT_FALSE(absl::StrContains(jsonl, absl::StrCat("blk_", i, " "))) << "alerted on blk_" << i;
  EXPECT_GT((*d)->metrics().alerts_suppressed_normal.load(), 0);
}

}  // namespace
}  // namespace fedlog::client::detect
