// Labels in live label-free detection (LiveFewShot through LinePipeline and Detector): a line near a
// labelled one takes its verdict as soon as the label is in the store, not from the next round; a
// line that no label is near keeps the label-free decision.
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/detect/detect_options.h"
#include "client/detect/detect_store.h"
#include "client/detect/detector.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/live_fewshot.h"
#include "common/base/file_util.h"
#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

constexpr char kOdd[] =
    "081109 204000 99 ERROR dfs.DataNode: Exception in receiveBlock for block blk_77 "
    "java.io.IOException: Connection reset by peer";
constexpr char kOddAgain[] =
    "081109 204500 12 ERROR dfs.DataNode: Exception in receiveBlock for block blk_9931 "
    "java.io.IOException: Connection reset by peer";

absl::StatusOr<DetectOptions> WithMatch(const std::string& match) {
  v1::ClientConfig c;
  const std::string yaml =
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]" + match + "}\n";
  if (absl::Status st = config::ParseYamlToMessage(yaml, &c); !st.ok()) return st;
  return DetectOptionsFromConfig(c, "/etc/fedlog");
}

TEST(LiveFewShotTest, ConfigDefaultsOffAndRange) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->fewshot_match, 0.3);
  o = WithMatch(", fewshot_match: 0.5");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->fewshot_match, 0.5);
  o = WithMatch(", fewshot_match: -2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_LT(o->fewshot_match, 0);  // off
  EXPECT_FALSE(WithMatch(", fewshot_match: 1.5").ok());
}

// detect.fewshot_label_prior / fewshot_lower_prior: 0 keeps FewShotOptions' defaults, a negative
// lower prior never lowers, and FewShotRule carries both to LiveFewShot.
TEST(LiveFewShotTest, ThresholdPriorsFromTheConfig) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).label_prior, fewshot::FewShotOptions().label_prior);
  EXPECT_DOUBLE_EQ(FewShotRule(*o).lower_prior, fewshot::FewShotOptions().lower_prior);
  o = WithMatch(", fewshot_label_prior: 12, fewshot_lower_prior: 30");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).label_prior, 12);
  EXPECT_DOUBLE_EQ(FewShotRule(*o).lower_prior, 30);
  o = WithMatch(", fewshot_lower_prior: -1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).lower_prior, 0);  // never lowered
  EXPECT_FALSE(WithMatch(", fewshot_label_prior: -1").ok());
  EXPECT_FALSE(WithMatch(", fewshot_label_prior: 2e6").ok());
  EXPECT_FALSE(WithMatch(", fewshot_lower_prior: 2e6").ok());
}

// detect.session_lookup_match (the session label lookup, fewshot::SessionLookup): off by default.
TEST(LiveFewShotTest, SessionLookupConfigDefaultsOffAndRange) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_LE(o->session_lookup_match, 0);
  o = WithMatch(", session_lookup_match: 0.9");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->session_lookup_match, 0.9);
  o = WithMatch(", session_lookup_match: -1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_LT(o->session_lookup_match, 0);
  EXPECT_FALSE(WithMatch(", session_lookup_match: 1.5").ok());
}

// detect.session_kind_rule (unit-kind verdicts, fewshot::SessionKinds): the default, each name, and
// an unknown name refused.
TEST(LiveFewShotTest, SessionKindRuleConfig) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->session_kind_rule, kDefaultSessionKindRule);
  for (const auto& [name, rule] : {std::pair{"off", fewshot::KindRule::kOff},
                                   std::pair{"silence", fewshot::KindRule::kSilence},
                                   std::pair{"raise", fewshot::KindRule::kSilenceAndRaise}}) {
    o = WithMatch(std::string(", session_kind_rule: ") + name);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->session_kind_rule, rule) << name;
  }
  EXPECT_FALSE(WithMatch(", session_kind_rule: always").ok());
}

// detect.session_label_cut (novelty::LabelCut): the default, each name, and an unknown name refused.
TEST(LiveFewShotTest, SessionLabelCutConfig) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->session_label_cut, novelty::SessionOptions().label_cut);
  for (const auto& [name, cut] : {std::pair{"midpoint", novelty::LabelCut::kMidpoint},
                                  std::pair{"agree", novelty::LabelCut::kAgree},
                                  std::pair{"nearest", novelty::LabelCut::kNearest}}) {
    o = WithMatch(std::string(", session_label_cut: ") + name);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->session_label_cut, cut) << name;
  }
  EXPECT_FALSE(WithMatch(", session_label_cut: middle").ok());
}

// detect.session_whole_unit (fewshot::SessionWholeUnits): the default, on and off, and any other value
// refused.
TEST(LiveFewShotTest, SessionWholeUnitConfig) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->session_whole_unit, kDefaultSessionWholeUnit);
  o = WithMatch(", session_whole_unit: \"on\"");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->session_whole_unit);
  o = WithMatch(", session_whole_unit: \"off\"");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->session_whole_unit);
  EXPECT_FALSE(WithMatch(", session_whole_unit: yes").ok());
}

// detect.session_union_score / session_union_max_keys (novelty::ShapeOptions::union_score): the
// defaults, on and off, the key cap, and values out of range refused; both reach the session scorer.
TEST(LiveFewShotTest, SessionUnionScoreConfig) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->session_union_score, kDefaultSessionUnionScore);
  EXPECT_EQ(o->session_union_max_keys, 65536);
  o = WithMatch(", session_union_score: \"on\", session_union_max_keys: 10");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->session_union_score);
  EXPECT_EQ(o->session_union_max_keys, 10);
  const novelty::NoveltyOptions n = LabelFreeRule(*o);
  EXPECT_TRUE(n.session.shape.union_score);
  EXPECT_EQ(n.session.shape.max_union_keys, 10u);
  o = WithMatch(", session_union_score: \"off\"");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->session_union_score);
  EXPECT_FALSE(LabelFreeRule(*o).session.shape.union_score);
  EXPECT_FALSE(WithMatch(", session_union_score: yes").ok());
  EXPECT_FALSE(WithMatch(", session_union_max_keys: -1").ok());
  EXPECT_FALSE(WithMatch(", session_union_max_keys: 10000001").ok());
}

TEST(LiveFewShotTest, DecidesOnlyNearALabelOfTheSameSource) {
  EXPECT_FALSE(LiveFewShot::Create(2, fewshot::FewShotOptions{.match = 0}).ok());
  auto f = LiveFewShot::Create(2, {});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->Decide(0, 3, "disk failure on volume").has_value());  // no labels yet
  f->Begin();
  f->AddLabel(0, 3, "disk failure on volume sda", 1);
  f->AddLabel(0, 4, "job finished fine", 0);
  f->AddLabel(9, 3, "disk failure on volume sda", 1);  // unknown source: ignored
  f->AddLabel(0, 4, "job finished fine", 0);            // the same tokens again: one unit
  f->End();
  EXPECT_EQ(f->labels(0), 2u);
  EXPECT_EQ(f->labels(1), 0u);
  auto near = f->Decide(0, 3, "disk failure on volume sdb");
  ASSERT_TRUE(near.has_value());
  EXPECT_EQ(near->label, 1);
  auto normal = f->Decide(0, 4, "job finished fine after 3 tries");
  ASSERT_TRUE(normal.has_value());
  EXPECT_EQ(normal->label, 0);
  EXPECT_FALSE(f->Decide(0, 7, "link training failed on torus").has_value());  // nothing near
  EXPECT_FALSE(f->Decide(1, 3, "disk failure on volume sda").has_value());    // other source
  f->Begin();  // a verdict replaced: the newest one counts
  f->AddLabel(0, 4, "job finished fine", 0);
  f->AddLabel(0, 4, "job finished fine", 1);
  f->End();
  EXPECT_EQ(f->labels(0), 1u);
  ASSERT_TRUE(f->Decide(0, 4, "job finished fine").has_value());
  EXPECT_EQ(f->Decide(0, 4, "job finished fine")->label, 1);
  f->Begin();  // labels withdrawn
  f->End();
  EXPECT_FALSE(f->Decide(0, 3, "disk failure on volume sda").has_value());
}

// Live detection keeps eval newsite's near-tie rule (fewshot::FewShotOptions::both_near_margin): a
// line near an anomalous and a normal label, less than 0.1 nearer one of them, gets no verdict.
TEST(LiveFewShotTest, ANearTieBetweenNearLabelsIsNoVerdict) {
  auto f = LiveFewShot::Create(1, {});
  ASSERT_TRUE(f.ok()) << f.status();
  f->Begin();
  f->AddLabel(0, 3, "disk failure on volume node rack panic", 1);
  f->AddLabel(0, 3, "disk failure on volume node rack cleared retried", 0);
  f->End();
  // 8 / 9 = 0.889 with the anomalous label, 8 / 10 = 0.8 with the normal one.
  EXPECT_FALSE(f->Decide(0, 3, "disk failure on volume node rack panic cleared").has_value());
  // The anomalous label's own tokens: 1.0 against 7 / 9.
  auto d = f->Decide(0, 3, "disk failure on volume node rack panic");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->label, 1);
}

double Fused(double squashed) { return squashed / (1.0 - squashed); }  // LiveFewShot::Squash's inverse

// The same raise-only rule as eval newsite (fewshot::FewShotDetector): in quantiles of the source's
// recent scores, from the operating point at their alert rate towards the labels' cut.
TEST(LiveFewShotTest, LabelsRaiseTheThresholdForLinesNoLabelIsNear) {
  auto f = LiveFewShot::Create(1, {});
  ASSERT_TRUE(f.ok()) << f.status();
  for (int i = 0; i < 1000; ++i) {
    const double x = (i + 0.5) / 1000.0;
    f->Observe(0, Fused(x), x >= 0.9);  // alert rate 0.1: operating point 0.9
  }
  EXPECT_TRUE(f->KeepsAlert(0, Fused(0.5)));  // no labels: the label-free decision stands
  f->Begin();
  f->AddLabel(0, 1, "torus link failure", 1, Fused(0.99));
  f->AddLabel(0, 2, "job started on partition", 0, Fused(0.97));
  f->End();
  // Cut 0.98 (between the labels); two labels raise the threshold 2 / (2 + 5) of the way.
  EXPECT_NEAR(f->threshold(0), 0.9 + 2.0 / 7.0 * (0.98 - 0.9), 1e-3);
  EXPECT_FALSE(f->KeepsAlert(0, Fused(0.91)));
  EXPECT_TRUE(f->KeepsAlert(0, Fused(0.95)));
  // Labels whose cut is below the operating point leave it there (never lower).
  f->Begin();
  f->AddLabel(0, 1, "torus link failure", 1, Fused(0.5));
  f->AddLabel(0, 2, "job started on partition", 0, Fused(0.2));
  f->End();
  EXPECT_NEAR(f->threshold(0), 0.9, 1e-3);
  EXPECT_TRUE(f->KeepsAlert(0, Fused(0.905)));
  // Too few observed lines: no few-shot threshold yet.
  auto young = LiveFewShot::Create(1, {});
  ASSERT_TRUE(young.ok());
  for (int i = 0; i < 10; ++i) young->Observe(0, Fused(0.5), i == 0);
  young->Begin();
  young->AddLabel(0, 1, "torus link failure", 1, Fused(0.99));
  young->AddLabel(0, 2, "job started on partition", 0, Fused(0.97));
  young->End();
  EXPECT_DOUBLE_EQ(young->threshold(0), 0.0);
  EXPECT_TRUE(young->KeepsAlert(0, Fused(0.1)));
}

// With a lower prior, labels whose cut lies below the operating point lower the threshold, and a line
// no label is near alerts when its score reaches it even where the label-free detector did not.
TEST(LiveFewShotTest, LabelsLowerTheThresholdWithALowerPrior) {
  fewshot::FewShotOptions fo;
  fo.lower_prior = 2;  // two labels: half way
  auto f = LiveFewShot::Create(1, fo);
  ASSERT_TRUE(f.ok()) << f.status();
  for (int i = 0; i < 1000; ++i) {
    const double x = (i + 0.5) / 1000.0;
    f->Observe(0, Fused(x), x >= 0.9);  // operating point 0.9
  }
  EXPECT_FALSE(f->Alerts(0, Fused(0.8), false));  // no labels: the label-free decision
  EXPECT_TRUE(f->Alerts(0, Fused(0.8), true));
  f->Begin();
  f->AddLabel(0, 1, "torus link failure", 1, Fused(0.5));
  f->AddLabel(0, 2, "job started on partition", 0, Fused(0.2));
  f->End();
  // Cut 0.35 (between the labels); half way down from 0.9.
  EXPECT_NEAR(f->threshold(0), 0.9 + 0.5 * (0.35 - 0.9), 1e-3);
  EXPECT_TRUE(f->lowered(0));
  EXPECT_TRUE(f->Alerts(0, Fused(0.7), false));
  EXPECT_FALSE(f->Alerts(0, Fused(0.6), false));
  EXPECT_TRUE(f->Alerts(0, Fused(0.6), true));  // a label-free alert stands
  EXPECT_TRUE(f->KeepsAlert(0, Fused(0.6)));
  EXPECT_NEAR(LiveFewShot::Squash(LiveFewShot::Unsquash(0.625)), 0.625, 1e-12);
  // The default rule's labels whose cut is higher raise it and lower nothing.
  f->Begin();
  f->AddLabel(0, 1, "torus link failure", 1, Fused(0.99));
  f->AddLabel(0, 2, "job started on partition", 0, Fused(0.97));
  f->End();
  EXPECT_FALSE(f->lowered(0));
  EXPECT_FALSE(f->Alerts(0, Fused(0.91), true));
}

// detect.fewshot_keep_alert_match: 0 keeps FewShotOptions' default, < 0 is off, above 1 is an error;
// with it a label-free alert that the raised threshold silences stands when no normal label is near.
TEST(LiveFewShotTest, KeepAlertMatchKeepsAlertsFarFromNormalLabels) {
  auto o = WithMatch("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).keep_alert_match, fewshot::FewShotOptions().keep_alert_match);
  o = WithMatch(", fewshot_keep_alert_match: 0.2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).keep_alert_match, 0.2);
  o = WithMatch(", fewshot_keep_alert_match: -1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).keep_alert_match, 0);
  EXPECT_FALSE(WithMatch(", fewshot_keep_alert_match: 1.5").ok());

  for (double keep : {0.0, 0.2}) {
    fewshot::FewShotOptions fo;
    fo.keep_alert_match = keep;
    auto f = LiveFewShot::Create(1, fo);
    ASSERT_TRUE(f.ok()) << f.status();
    for (int i = 0; i < 1000; ++i) {
      const double x = (i + 0.5) / 1000.0;
      f->Observe(0, Fused(x), x >= 0.9);  // operating point 0.9
    }
    f->Begin();
    f->AddLabel(0, 1, "torus link failure", 1, Fused(0.99));
    f->AddLabel(0, 2, "job started on partition", 0, Fused(0.97));
    f->End();
    ASSERT_GT(f->threshold(0), 0.9);  // raised
    EXPECT_FALSE(f->Alerts(0, Fused(0.91), true));  // the threshold alone silences it
    // Far from both labels: the alert stands with the option on.
    EXPECT_FALSE(f->Decide(0, 7, "ciod failed to read message prefix").has_value());
    EXPECT_EQ(f->KeepsLabelFreeAlert(0, 7, "ciod failed to read message prefix"), keep > 0) << keep;
    // Two of eight tokens (0.25) shared with the normal label, none with the anomalous one: below
    // match (0.3), so no label decides it, but with keep 0.2 that normal label is near enough to let
    // the threshold silence it (and with the option off nothing keeps it).
    EXPECT_FALSE(f->Decide(0, 8, "job started with errors").has_value());
    EXPECT_FALSE(f->KeepsLabelFreeAlert(0, 8, "job started with errors"));
  }
}

// A frequent template the label-free detector never alerts on alerts once the operator labels one of
// its lines anomalous; the odd line it alerts on stops once a line like it is labelled normal.
TEST(LiveFewShotTest, PipelineLabelsDecideNearLinesAtOnce) {
  for (double match : {0.3, -1.0}) {
    auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
    ASSERT_TRUE(p.ok()) << p.status();
    novelty::NoveltyOptions o;
    o.expected_alert_rate = 0.02;
    o.label_prior = 1e6;  // the labels leave the label-free threshold where it is: only the few-shot
                          // decision can change these lines' verdicts
    ASSERT_TRUE((*p)->EnableLabelFree(o, "", match).ok());
    LineResult r;
    for (int i = 0; i < 2000; ++i) (*p)->Process(0, testing::HdfsLine(i), &r);
    (*p)->Process(0, testing::HdfsLine(2000), &r);
    ASSERT_FALSE(r.alert);
    (*p)->Process(0, kOdd, &r);
    ASSERT_TRUE(r.alert);
    (*p)->SetLabelFreeLabels({{0, testing::HdfsLine(0), 1}, {0, kOdd, 0}});
    (*p)->Process(0, testing::HdfsLine(2004), &r);
    EXPECT_EQ(r.alert, match > 0) << "match " << match;
    EXPECT_EQ(r.label_match, match > 0 ? 1 : -1);
    (*p)->Process(0, kOddAgain, &r);
    EXPECT_EQ(r.alert, match <= 0) << "match " << match;
    EXPECT_EQ(r.label_match, match > 0 ? 0 : -1);
    EXPECT_EQ(r.label_silenced, match > 0);  // the label-free detector alone alerts on it
    (*p)->Process(0, testing::HdfsLine(2001), &r);  // another template: label-free as before
    EXPECT_FALSE(r.alert);
    EXPECT_EQ(r.label_match, -1);
  }
}

std::string ReadAlerts(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : "";
}

// The running detector picks a verdict up from its store within a poll interval: a line of the
// labelled template that follows alerts, with "label" among its signals (the label-free detector
// alone does not alert on the 376th line of a template, and never says "label").
TEST(LiveFewShotTest, DetectorUsesAStoredVerdictWithoutARestart) {
  const std::string dir = testing::FreshDir("live_fewshot");
  const std::string log = dir + "/app.log";
  DetectOptions o = testing::HdfsDetectOptions(dir, log);
  o.dedup_window_s = -1;  // an earlier label-free alert on the template must not hide the labelled one
  o.rate_limit_per_min = -1;
  {
    std::ofstream f(log);
    for (int i = 0; i < 1500; ++i) f << testing::HdfsLine(i) << "\n";
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::Status run;
  std::thread t([&] { run = (*d)->Run(); });
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((*d)->lines_processed() < 1500 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*d)->lines_processed(), 1500);
  {
    auto store = DetectStore::Open(DetectStorePath(o.data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->AddLabel({"HDFS", testing::HdfsLine(4), 1, {}, {}, "feedback:label:HDFS:x"},
                                   absl::ToUnixMillis(absl::Now()))
                    .ok());
  }
  absl::SleepFor(absl::Milliseconds(100));  // several poll intervals
  {
    std::ofstream f(log, std::ios::app);
    f << testing::HdfsLine(1600) << "\n";
  }
  std::string alert;
  while (alert.empty() && absl::Now() < deadline) {
    for (absl::string_view line : absl::StrSplit(ReadAlerts(o.alerts_file), '\n')) {
      if (absl::StrContains(line, "blk_2600")) alert = std::string(line);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  (*d)->Stop();
  t.join();
  EXPECT_TRUE(run.ok()) << run;
  ASSERT_FALSE(alert.empty()) << "no alert for the labelled template's line";
  EXPECT_TRUE(absl::StrContains(alert, "label\"")) << alert;
}

}  // namespace
}  // namespace fedlog::client::detect
