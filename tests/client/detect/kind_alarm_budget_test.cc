// The alarm budget on the federation's anomalous kind verdicts in live detection (detect.kind_alarm_budget;
// LinePipeline::SetKindAlarmBudget, kinds::AlarmBudget): a lone site that labels every kind of a source
// anomalous cannot make a site running that source alert on more than the budget's share of its lines, and an
// honest site's verdict on a rare incident kind still alerts.
#include <memory>
#include <string>
#include <vector>

#include "client/detect/detect_options.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/model_loader.h"
#include "client/site_kinds.h"
#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

// The site's stream: HdfsLine's kinds 0, 1 and 2 in turn (routine), and kind 3 on every 100th line (a rare
// incident).
std::string StreamLine(int n) { return testing::HdfsLine(n % 100 == 50 ? 4 * n + 3 : 4 * n + n % 3); }
bool IsIncident(int n) { return n % 100 == 50; }

// A model that never alerts by itself, with the kind counts of ONE site (capped, as SourceKindCounts sends
// them) that labelled 8 lines of each of the four kinds: anomalous where `anomalous(kind)`.
template <typename F>
std::unique_ptr<DetectionModel> OneSiteModel(const LinePipeline& p, F anomalous) {
  std::vector<std::string> raw;
  std::vector<int> labels;
  for (int i = 0; i < 32; ++i) {
    raw.push_back(testing::HdfsLine(10000 + i));
    labels.push_back(anomalous(i % 4) ? 1 : 0);
  }
  auto counts = client::SourceKindCounts("HDFS", "HDFS", raw, labels);
  EXPECT_TRUE(counts.ok() && counts->has_value());
  v1::ModelManifest manifest;
  manifest.set_version(7);
  *manifest.add_kind_counts() = **counts;
  const model::EncoderSpec spec = testing::SmallSpec(p.feature_dim(), {});
  auto m = BuildDetectionModel(spec, testing::SmallWeights(spec, 3), 7, {"HDFS"}, {}, 1e30f);
  EXPECT_TRUE(m.ok()) << m.status();
  AttachKindCounts(manifest, {"HDFS"}, m->get());
  return std::move(*m);
}

struct Outcome {
  int alerts = 0, incident_alerts = 0, withheld = 0;
};

Outcome RunStream(LinePipeline* p, int lines) {
  Outcome o;
  LineResult r;
  for (int n = 0; n < lines; ++n) {
    p->Process(0, StreamLine(n), &r);
    o.alerts += r.alert ? 1 : 0;
    o.incident_alerts += r.alert && IsIncident(n) ? 1 : 0;
    o.withheld += r.kind_withheld ? 1 : 0;
  }
  return o;
}

TEST(KindAlarmBudgetTest, ALoneAlarmLiarCannotFloodTheSite) {
  for (bool budget : {false, true}) {
    auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
    ASSERT_TRUE(p.ok()) << p.status();
    (*p)->SetModel(OneSiteModel(**p, [](int) { return true; }));
    (*p)->EnableKindVerdicts(true);
    if (!budget) (*p)->SetKindAlarmBudget({0.0, 0});  // off: session 18's behaviour
    const Outcome o = RunStream(p->get(), 3000);
    if (!budget) {
      EXPECT_EQ(o.alerts, 3000);  // the flood
      EXPECT_EQ(o.withheld, 0);
      continue;
    }
    EXPECT_LE(o.alerts, kinds::kDefaultAlarmBudget * 3000);
    EXPECT_EQ(o.alerts + o.withheld, 3000);
    // The budget goes to the rarest kinds: the incident kind's lines alert once the site's first 1,000 lines
    // (whose small allowance the routine kinds spend while every kind is still rare) are past.
    EXPECT_GE(o.incident_alerts, 18);
  }
}

TEST(KindAlarmBudgetTest, AnHonestVerdictOnARareIncidentKindStillAlerts) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  (*p)->SetModel(OneSiteModel(**p, [](int kind) { return kind == 3; }));
  (*p)->EnableKindVerdicts(true);  // the default budget
  const Outcome o = RunStream(p->get(), 3000);
  EXPECT_EQ(o.incident_alerts, 30);
  EXPECT_EQ(o.alerts, 30);
  EXPECT_EQ(o.withheld, 0);
}

TEST(KindAlarmBudgetTest, SettingsAreParsedAndChecked) {
  auto parse = [](const std::string& extra) -> absl::StatusOr<DetectOptions> {
    v1::ClientConfig c;
    const std::string yaml = "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]" + extra + "}\n";
    if (absl::Status st = config::ParseYamlToMessage(yaml, &c); !st.ok()) return st;
    return DetectOptionsFromConfig(c, "/etc/fedlog");
  };
  auto o = parse("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->kind_alarm_budget.share, kinds::kDefaultAlarmBudget);
  EXPECT_EQ(o->kind_alarm_budget.exempt_sites, 0);
  o = parse(", kind_alarm_budget: 0.2, kind_alarm_exempt_sites: 2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->kind_alarm_budget.share, 0.2);
  EXPECT_EQ(o->kind_alarm_budget.exempt_sites, 2);
  o = parse(", kind_alarm_budget: -1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->kind_alarm_budget.share, 0);
  EXPECT_FALSE(parse(", kind_alarm_budget: 1.5").ok());
  EXPECT_FALSE(parse(", kind_alarm_budget: .nan").ok());
  EXPECT_FALSE(parse(", kind_alarm_exempt_sites: 1").ok());
  EXPECT_FALSE(parse(", kind_alarm_exempt_sites: 9").ok());
  EXPECT_EQ(parse("")->kind_alarm_budget.mass, kinds::kDefaultAlarmBudgetMass);
  EXPECT_EQ(parse(", kind_alarm_budget_mass: all")->kind_alarm_budget.mass, kinds::AlarmBudgetMass::kAll);
  EXPECT_EQ(parse(", kind_alarm_budget_mass: quiet")->kind_alarm_budget.mass, kinds::AlarmBudgetMass::kQuiet);
  EXPECT_FALSE(parse(", kind_alarm_budget_mass: some").ok());
}

}  // namespace
}  // namespace fedlog::client::detect
