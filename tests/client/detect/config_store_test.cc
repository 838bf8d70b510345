// DetectConfig (YAML) -> DetectOptions, and the store's retention limits.
#include <SQLiteCpp/SQLiteCpp.h>

#include "absl/strings/str_cat.h"
#include "client/detect/alert_sink.h"
#include "client/detect/detect_options.h"
#include "client/detect/detect_store.h"
#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

absl::StatusOr<DetectOptions> FromYaml(const std::string& yaml) {
  v1::ClientConfig c;
  if (absl::Status st = config::ParseYamlToMessage(yaml, &c); !st.ok()) return st;
  return DetectOptionsFromConfig(c, "/etc/fedlog");
}

TEST(DetectConfigTest, DefaultsAndRelativePaths) {
  auto o = FromYaml(R"(
data_dir: state
detect:
  sources:
    - name: HDFS
      paths: [logs/*.log, "-"]
    - name: app
      format: jsonl
      paths: [/var/log/app.log]
  webhook_url: http://127.0.0.1:9000/hook
  dedup_window_s: -1
)");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->data_dir, "/etc/fedlog/state");
  EXPECT_EQ(o->alerts_file, "/etc/fedlog/state/alerts.jsonl");
  ASSERT_EQ(o->sources.size(), 2u);
  EXPECT_EQ(o->sources[0].format, "HDFS");
  EXPECT_EQ(o->sources[0].paths, (std::vector<std::string>{"/etc/fedlog/logs/*.log", "-"}));
  EXPECT_EQ(o->sources[1].format, "jsonl");
  EXPECT_EQ(o->dedup_window_s, -1);
  EXPECT_EQ(o->rate_limit_per_min, 10);
  EXPECT_EQ(o->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(o->queue_capacity, 65536);
  EXPECT_EQ(o->webhook_max_attempts, 8);
}

TEST(DetectConfigTest, LabelFreeWithinLevelSettings) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  const novelty::NoveltyOptions defaults;
  EXPECT_DOUBLE_EQ(d->within_level, defaults.within_level);
  EXPECT_DOUBLE_EQ(d->recurrence_weight, defaults.recurrence_weight);
  EXPECT_DOUBLE_EQ(d->report_weight, defaults.report_weight);
  EXPECT_DOUBLE_EQ(d->max_cluster_share, defaults.max_cluster_share);
  auto o = FromYaml(R"(
data_dir: x
detect:
  sources: [{name: A, paths: [a]}]
  label_free_within_level: 0.5
  label_free_recurrence_weight: -1
  label_free_report_weight: 2
  label_free_max_cluster_share: -1
)");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->within_level, 0.5);
  EXPECT_DOUBLE_EQ(o->recurrence_weight, 0.0);  // < 0: off
  EXPECT_DOUBLE_EQ(o->report_weight, 2.0);
  EXPECT_DOUBLE_EQ(o->max_cluster_share, 0.0);
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                        "label_free_within_level: 2}\n").ok());
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                        "label_free_max_cluster_share: 1.5}\n").ok());
}

TEST(DetectConfigTest, LabelFreeThresholdRuleSettings) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->threshold_rule, novelty::ThresholdRule::kCompact);
  EXPECT_DOUBLE_EQ(d->cluster_width, 0.0625);
  EXPECT_DOUBLE_EQ(d->path_weight, 1.0);
  auto o = FromYaml(R"(
data_dir: x
detect:
  sources: [{name: A, paths: [a]}]
  label_free_threshold_rule: valley
  label_free_cluster_width: 0.1
  label_free_path_weight: -1
)");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->threshold_rule, novelty::ThresholdRule::kValley);
  EXPECT_DOUBLE_EQ(o->cluster_width, 0.1);
  EXPECT_DOUBLE_EQ(o->path_weight, 0.0);  // < 0: off
  const auto bad = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                            "label_free_threshold_rule: otsu}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("label_free_threshold_rule"), std::string::npos);
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                        "label_free_cluster_width: 2}\n").ok());
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                        "label_free_path_weight: 200}\n").ok());
}

// Session 11: the quiet-component term (DetectConfig 49) and value reports under the adapted
// threshold (54).
TEST(DetectConfigTest, LabelFreeQuietAndReportSettings) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(d->quiet_weight, novelty::NoveltyOptions().quiet_weight);
  EXPECT_GT(d->quiet_weight, 0.0);
  EXPECT_FALSE(d->reports_adapt);
  auto o = FromYaml(R"(
data_dir: x
detect:
  sources: [{name: A, paths: [a]}]
  label_free_quiet_weight: 1.25
  label_free_reports_adapt: true
)");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->quiet_weight, 1.25);
  EXPECT_TRUE(o->reports_adapt);
  auto off = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_quiet_weight: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_DOUBLE_EQ(off->quiet_weight, 0.0);  // < 0: off
  const auto bad = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                            "label_free_quiet_weight: 101}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("label_free_quiet_weight"), std::string::npos);
}

// Session 12: the budget spent below the compact clusters (DetectConfig 55).
TEST(DetectConfigTest, LabelFreeRestBudgetSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(d->rest_budget, novelty::NoveltyOptions().rest_budget);
  EXPECT_DOUBLE_EQ(d->rest_budget, 0.5);
  auto o = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rest_budget: 1}\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->rest_budget, 1.0);
  auto off = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rest_budget: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_DOUBLE_EQ(off->rest_budget, 0.0);  // < 0: session 11's rule
  const auto bad = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rest_budget: 2}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("label_free_rest_budget"), std::string::npos);
}

// Session 18: the rest's cut inside a bin (DetectConfig 64) and value-report rules for field reports
// only (65): 0 keeps the default, > 0 on, < 0 off.
TEST(DetectConfigTest, LabelFreeRefreshOnRiseSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->refresh_on_rise);
  auto off = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_refresh_on_rise: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->refresh_on_rise);
  auto on = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_refresh_on_rise: 1}\n");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->refresh_on_rise);
}

TEST(DetectConfigTest, LabelFreeRestInterpolateAndReportsFieldOnlySettings) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rest_interpolate, novelty::NoveltyOptions().rest_interpolate);
  EXPECT_EQ(d->reports_field_only, novelty::NoveltyOptions().reports_field_only);
  auto on = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rest_interpolate: 1, "
                     "label_free_reports_field_only: 1}\n");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->rest_interpolate);
  EXPECT_TRUE(on->reports_field_only);
  auto off = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rest_interpolate: -1, "
                      "label_free_reports_field_only: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->rest_interpolate);
  EXPECT_FALSE(off->reports_field_only);
}

// Session 13: the rank cut's window (DetectConfig 56).
TEST(DetectConfigTest, LabelFreeRankWindowSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rank_window, novelty::NoveltyOptions().rank_window);
  EXPECT_EQ(d->rank_window, 0);  // off by default
  auto o = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rank_window: 1000}\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->rank_window, 1000);
  auto off = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rank_window: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->rank_window, 0);  // < 0: off, the histogram threshold alone (session 12's rule)
  const auto bad =
      FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_rank_window: 70000}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("label_free_rank_window"), std::string::npos);
}

// Session 15: the budget window (DetectConfig 37).
TEST(DetectConfigTest, LabelFreeBudgetWindowSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->budget_window, novelty::NoveltyOptions().budget_window);
  EXPECT_EQ(d->budget_window, 5000);  // on by default (session 15)
  auto o = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_budget_window: 5000}\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->budget_window, 5000);
  auto off = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_budget_window: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->budget_window, 0);  // < 0: off, the threshold alone (session 14's decision)
  const auto big = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
      "label_free_budget_window: 2000000}\n");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("label_free_budget_window"), std::string::npos);
}

// Session 14: field reports in the label-free score (DetectConfig 51).
TEST(DetectConfigTest, LabelFreeFieldReportSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(d->field_report_weight, novelty::NoveltyOptions().field_report_weight);
  auto o = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_field_report_weight: 0.75}\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->field_report_weight, 0.75);
  auto off = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_field_report_weight: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_DOUBLE_EQ(off->field_report_weight, 0.0);  // < 0: off
  const auto bad = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_field_report_weight: 1.5}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("label_free_field_report_weight"), std::string::npos);
}

// Session 17: the recurrence term as a rate over this many lines (DetectConfig 53).
TEST(DetectConfigTest, LabelFreeRecurrenceAgeLinesSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->recurrence_age_lines, novelty::NoveltyOptions().recurrence_age_lines);
  EXPECT_EQ(d->recurrence_age_lines, 250);  // on by default (session 17)
  auto o = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_recurrence_age_lines: 1000}\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->recurrence_age_lines, 1000);
  auto off = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], label_free_recurrence_age_lines: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->recurrence_age_lines, 0);  // < 0: off, the plain count (session 16's term)
  const auto big = FromYaml(
      "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
      "label_free_recurrence_age_lines: 2000000000}\n");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("label_free_recurrence_age_lines"), std::string::npos);
}

TEST(DetectConfigTest, SessionIncompleteQuietSetting) {
  auto d = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->session_incomplete_quiet_ms, 1200000);
  auto o = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], session_incomplete_quiet_ms: 60000}\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->session_incomplete_quiet_ms, 60000);
  auto off = FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], session_incomplete_quiet_ms: -1}\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->session_incomplete_quiet_ms, 0);  // no longer than session_quiet_ms
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], "
                        "session_incomplete_quiet_ms: 86400001}\n")
                   .ok());
}

TEST(DetectConfigTest, RejectsBadConfigs) {
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: []}\n").ok());
  EXPECT_FALSE(FromYaml("detect: {sources: [{name: A, paths: [a]}]}\n").ok());  // no data_dir
  EXPECT_FALSE(FromYaml("data_dir: x\ndetect: {sources: [{name: A}]}\n").ok());
  EXPECT_FALSE(
      FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], threshold: 2}\n").ok());
  EXPECT_FALSE(
      FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], webhook_url: ftp://h/x}\n")
          .ok());
  EXPECT_FALSE(
      FromYaml("data_dir: x\ndetect: {sources: [{name: A, paths: [a]}], no_such_key: 1}\n").ok());
}

TEST(DetectStoreTest, RetentionKeepsTheNewestRowsAndOffsetsUpsert) {
  const std::string dir = testing::FreshDir("store");
  auto store = DetectStore::Open(dir + "/detect.db");
  ASSERT_TRUE(store.ok()) << store.status();
  BatchRecord rec;
  for (int i = 0; i < 50; ++i) rec.scores.push_back({i, "HDFS", i % 3, 0.1f * (i % 10), 1});
  for (int i = 0; i < 20; ++i) {
    AlertRow a;
    a.id = absl::StrCat("a", i);
    a.source = "HDFS";
    rec.alerts.push_back(a);
  }
  rec.offsets.push_back({"HDFS", 1, 2, "/x.log", 100});
  rec.counts.push_back({"HDFS", 4, 10});
  ASSERT_TRUE((*store)->Commit(rec).ok());
  BatchRecord more;
  more.offsets.push_back({"HDFS", 1, 2, "/x.log.1", 250});
  more.counts.push_back({"HDFS", 4, 5});
  ASSERT_TRUE((*store)->Commit(more).ok());
  ASSERT_TRUE((*store)->ApplyRetention(30, 5).ok());
  EXPECT_EQ(*(*store)->CountRows("scores"), 30);
  EXPECT_EQ(*(*store)->CountRows("alerts"), 5);
  EXPECT_TRUE((*store)->GetAlert("a19").ok());  // newest kept
  EXPECT_FALSE((*store)->GetAlert("a0").ok());  // oldest dropped
  auto offsets = (*store)->LoadOffsets();
  ASSERT_TRUE(offsets.ok());
  ASSERT_EQ(offsets->size(), 1u);
  EXPECT_EQ((*offsets)[0].offset, 250);
  EXPECT_EQ((*offsets)[0].path, "/x.log.1");
  SQLite::Database db(dir + "/detect.db");
  EXPECT_EQ(db.execAndGet("SELECT count FROM template_counts WHERE template_id = 4").getInt(), 15);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(AlertJsonTest, EscapesAndKeepsValidUtf8) {
  Alert a;
  a.id = "00ff";
  a.time_ms = 1700000000123;
  a.source = "HDFS";
  a.line = "say \"hi\"\tcaf\xc3\xa9 \xff end";
  a.template_id = 4;
  a.parameters = {"a\\b"};
  a.score = 0.75f;
  a.threshold = 0.5f;
  a.model_version = 9;
  a.context = {"x"};
  const std::string json = AlertToJson(a);
  EXPECT_NE(json.find("\"time\":\"2023-11-14T22:13:20.123Z\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"line\":\"say \\\"hi\\\"\\tcaf\xc3\xa9 \\ufffd end\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"parameters\":[\"a\\\\b\"]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"score\":0.75,\"threshold\":0.5,\"model_version\":9"), std::string::npos)
      << json;
  EXPECT_EQ(AlertId("HDFS", 1, 2, 300, 0), AlertId("HDFS", 1, 2, 300, 0));
  EXPECT_NE(AlertId("HDFS", 1, 2, 300, 0), AlertId("HDFS", 1, 2, 301, 0));
}

TEST(AlertJsonTest, RaisedTimeIsWrittenOnceAndAQuotedKeyInALineIsNotTakenForIt) {
  Alert a;
  a.id = "00aa";
  a.time_ms = 1700000000123;
  a.line = "a line that says ,\"raised\": in it";
  const std::string unstamped = AlertToJson(a);
  EXPECT_EQ(unstamped.find(",\"raised\":"), std::string::npos) << unstamped;
  const std::string stamped = StampRaised(unstamped, 1765112523456);
  EXPECT_EQ(stamped.substr(stamped.size() - 37), ",\"raised\":\"2025-12-07T13:02:03.456Z\"}") << stamped;
  EXPECT_EQ(StampRaised(stamped, 1765112599999), stamped) << "a stamped record was stamped again";
  a.raised_ms = 1765112523456;
  const std::string direct = AlertToJson(a);
  EXPECT_NE(direct.find("\"time\":\"2023-11-14T22:13:20.123Z\",\"raised\":\"2025-12-07T13:02:03.456Z\""),
            std::string::npos)
      << direct;
  EXPECT_EQ(StampRaised(direct, 1765112599999), direct);
}

TEST(AlertLimiterTest, DedupWindowAndRateLimitPerTemplate) {
  AlertLimiter dedup(60, -1);
  EXPECT_EQ(dedup.Check("A", 1, 0), AlertLimiter::Verdict::kAllow);
  EXPECT_EQ(dedup.Check("A", 1, 59999), AlertLimiter::Verdict::kDuplicate);
  EXPECT_EQ(dedup.Check("A", 2, 59999), AlertLimiter::Verdict::kAllow);  // another template
  EXPECT_EQ(dedup.Check("B", 1, 59999), AlertLimiter::Verdict::kAllow);  // another source
  EXPECT_EQ(dedup.Check("A", 1, 60000), AlertLimiter::Verdict::kAllow);
  AlertLimiter rate(-1, 2);
  EXPECT_EQ(rate.Check("A", 1, 0), AlertLimiter::Verdict::kAllow);
  EXPECT_EQ(rate.Check("A", 1, 1), AlertLimiter::Verdict::kAllow);
  EXPECT_EQ(rate.Check("A", 1, 2), AlertLimiter::Verdict::kRateLimited);
  EXPECT_EQ(rate.Check("A", 1, 60000), AlertLimiter::Verdict::kAllow);  // next minute
}

}  // namespace
}  // namespace fedlog::client::detect
