// The federation's message-kind verdicts in live detection (detect.kind_verdicts; LinePipeline::
// EnableKindVerdicts, AttachKindCounts; client/site_kinds.h builds the counts a site uploads): a line
// no site label decides takes its kind's verdict from the model's manifest, and the site's own label wins.
#include <string>
#include <tuple>
#include <vector>

#include "client/detect/detect_options.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/model_loader.h"
#include "client/site_kinds.h"
#include "common/base/file_util.h"
#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

// A manifest whose kind counts label HdfsLine(i)'s kind anomalous for i % 4 == 0 and normal for
// i % 4 == 1 (each from 4 labelled lines at each of `sites` sites), and leave the other kinds without a
// verdict: the counts sites would upload (SourceKindCounts), summed as the aggregator would ship them.
v1::ModelManifest ManifestWithKinds(int sites = 2) {
  std::vector<std::string> raw;
  std::vector<int> labels;
  for (int i = 0; i < 8; ++i) {
    raw.push_back(testing::HdfsLine(i));
    labels.push_back(i % 4 == 0 ? 1 : i % 4 == 1 ? 0 : -1);
  }
  for (int i = 8; i < 16; ++i) {  // two more of each labelled kind: 4 units each
    raw.push_back(testing::HdfsLine(i));
    labels.push_back(i % 4 == 0 ? 1 : i % 4 == 1 ? 0 : -1);
  }
  auto counts = client::SourceKindCounts("HDFS", "HDFS", raw, labels);
  EXPECT_TRUE(counts.ok()) << counts.status();
  EXPECT_TRUE(counts->has_value());
  v1::ModelManifest m;
  m.set_version(7);
  *m.add_kind_counts() = **counts;
  for (double& c : *m.mutable_kind_counts(0)->mutable_count()) c *= sites;  // the same counts from each site
  return m;
}

std::unique_ptr<DetectionModel> ModelWithKinds(const LinePipeline& p, float threshold, int sites = 2) {
  const model::EncoderSpec spec = testing::SmallSpec(p.feature_dim(), {});
  auto m = BuildDetectionModel(spec, testing::SmallWeights(spec, 3), 7, {"HDFS"}, {}, threshold);
  EXPECT_TRUE(m.ok()) << m.status();
  AttachKindCounts(ManifestWithKinds(sites), {"HDFS"}, m->get());
  EXPECT_EQ((*m)->kinds.count("HDFS"), 1u);
  return std::move(*m);
}

TEST(KindVerdictsTest, AnomalousKindAlertsAndNormalKindSilences) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  LineResult r;
  // A model that never alerts by itself: the anomalous kind raises the alert.
  (*p)->SetModel(ModelWithKinds(**p, 1e30f));
  (*p)->EnableKindVerdicts(true);
  (*p)->Process(0, testing::HdfsLine(100), &r);  // kind of i % 4 == 0 (another block number)
  EXPECT_TRUE(r.model_scored);
  EXPECT_TRUE(r.alert);
  EXPECT_EQ(r.kind_verdict, 1);
  (*p)->Process(0, testing::HdfsLine(102), &r);  // a kind without a verdict: the model's own decision
  EXPECT_FALSE(r.alert);
  EXPECT_EQ(r.kind_verdict, 0);
  (*p)->EnableKindVerdicts(false);
  (*p)->Process(0, testing::HdfsLine(104), &r);
  EXPECT_FALSE(r.alert);
  EXPECT_EQ(r.kind_verdict, 0);
  // A model that alerts on everything: the normal kind silences it.
  (*p)->SetModel(ModelWithKinds(**p, 1e-30f));
  (*p)->EnableKindVerdicts(true);
  (*p)->Process(0, testing::HdfsLine(101), &r);
  EXPECT_FALSE(r.alert);
  EXPECT_EQ(r.kind_verdict, -1);
  (*p)->Process(0, testing::HdfsLine(103), &r);
  EXPECT_EQ(r.kind_verdict, 0);
  EXPECT_EQ(r.alert, r.score >= r.threshold);
}

// One site's counts (capped at kSiteBucketCap per bucket) raise an alert but do not silence one by default:
// the site may lie. detect.kind_verdict_silence_sites 1 trusts it.
TEST(KindVerdictsTest, OneSiteAloneCannotSilenceByDefault) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  LineResult r;
  (*p)->SetModel(ModelWithKinds(**p, 1e-30f, /*sites=*/1));
  (*p)->EnableKindVerdicts(true);
  (*p)->Process(0, testing::HdfsLine(101), &r);  // a normal kind, from one site only
  EXPECT_TRUE(r.alert);
  EXPECT_EQ(r.kind_verdict, 0);
  kinds::KindVerdictOptions trusting;
  trusting.normal_sites = 1;
  (*p)->SetKindVerdictOptions(trusting);
  (*p)->Process(0, testing::HdfsLine(105), &r);
  EXPECT_FALSE(r.alert);
  EXPECT_EQ(r.kind_verdict, -1);
  (*p)->SetModel(ModelWithKinds(**p, 1e30f, /*sites=*/1));
  (*p)->SetKindVerdictOptions({});
  (*p)->Process(0, testing::HdfsLine(100), &r);  // an anomalous kind: one site is enough to raise
  EXPECT_TRUE(r.alert);
  EXPECT_EQ(r.kind_verdict, 1);
}

TEST(KindVerdictsTest, TheSitesOwnLabelWins) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(p.ok()) << p.status();
  novelty::NoveltyOptions o;
  o.expected_alert_rate = 0.02;
  ASSERT_TRUE((*p)->EnableLabelFree(o, "", /*fewshot_match=*/1.0).ok());
  fewshot::ChoiceOptions c;
  c.mode = fewshot::ChoiceMode::kLabelFree;
  ASSERT_TRUE((*p)->SetDetectorChoice(c).ok());
  LineResult r;
  for (int i = 0; i < 200; ++i) (*p)->Process(0, testing::HdfsLine(i), &r);
  (*p)->SetModel(ModelWithKinds(**p, 0));
  (*p)->EnableKindVerdicts(true);
  // The site labels this very line normal; the federation calls its kind anomalous.
  const std::string line = testing::HdfsLine(400);
  (*p)->SetLabelFreeLabels({std::make_tuple(0, line, 0)});
  (*p)->Process(0, line, &r);
  EXPECT_FALSE(r.model_scored);
  EXPECT_EQ(r.label_match, 0);
  EXPECT_FALSE(r.alert);
  EXPECT_EQ(r.kind_verdict, 0);
  // Once the site's labels say nothing near it (only another kind labelled), the line takes the federation's
  // verdict.
  (*p)->SetLabelFreeLabels({std::make_tuple(0, testing::HdfsLine(402), 0)});
  (*p)->Process(0, line, &r);
  EXPECT_EQ(r.label_match, -1);
  EXPECT_TRUE(r.alert);
  EXPECT_EQ(r.kind_verdict, 1);
}

TEST(KindVerdictsTest, LoaderReadsTheManifestsCounts) {
  const std::string dir = testing::FreshDir("kind_verdicts_loader");
  auto probe = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  ASSERT_TRUE(probe.ok());
  const model::EncoderSpec spec = testing::SmallSpec((*probe)->feature_dim(), {"HDFS"});
  ASSERT_TRUE(testing::WritePromotedModel(dir, spec, testing::SmallWeights(spec, 3), 7).ok());
  auto bytes = ReadFile(PromotedManifestPath(dir));
  ASSERT_TRUE(bytes.ok());
  v1::ModelManifest m;
  ASSERT_TRUE(m.ParseFromString(*bytes));
  *m.mutable_kind_counts() = ManifestWithKinds().kind_counts();
  v1::KindCounts broken = m.kind_counts(0);  // a damaged entry for another source is left out
  broken.set_source("OTHER");
  broken.add_bucket(1u << 30);
  broken.add_count(1);
  *m.add_kind_counts() = broken;
  ASSERT_TRUE(WriteFileAtomic(PromotedManifestPath(dir), m.SerializeAsString()).ok());
  auto model = LoadDetectionModel(dir, {"HDFS", "OTHER"}, {}, 0);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->kinds.count("HDFS"), 1u);
  EXPECT_EQ((*model)->kinds.count("OTHER"), 0u);
}

TEST(KindVerdictsTest, SettingIsOnByDefaultAndChecked) {
  auto parse = [](const std::string& extra) -> absl::StatusOr<DetectOptions> {
    v1::ClientConfig c;
    const std::string yaml = "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]" + extra + "}\n";
    if (absl::Status st = config::ParseYamlToMessage(yaml, &c); !st.ok()) return st;
    return DetectOptionsFromConfig(c, "/etc/fedlog");
  };
  ASSERT_TRUE(parse("").ok());
  EXPECT_TRUE(parse("")->kind_verdicts);
  EXPECT_TRUE(parse(", kind_verdicts: \"on\"")->kind_verdicts);
  EXPECT_FALSE(parse(", kind_verdicts: \"off\"")->kind_verdicts);
  EXPECT_FALSE(parse(", kind_verdicts: sometimes").ok());
  EXPECT_EQ(parse("")->kind_verdict_silence_sites, 2);
  EXPECT_EQ(parse(", kind_verdict_silence_sites: 1")->kind_verdict_silence_sites, 1);
  EXPECT_FALSE(parse(", kind_verdict_silence_sites: 9").ok());
  EXPECT_FALSE(parse(", kind_verdict_silence_sites: -1").ok());
}

TEST(KindVerdictsTest, SiteCountsOnlyInPlainRoundsUnderAnUploadingPolicy) {
  v1::RoundTask plain;
  v1::SitePrivacyPolicy policy;
  EXPECT_TRUE(client::UploadsKindCounts(plain, policy));
  v1::RoundTask masked = plain;
  masked.set_secure_aggregation(true);
  EXPECT_FALSE(client::UploadsKindCounts(masked, policy));
  v1::RoundTask dp = plain;
  dp.set_dp_mode("line");
  EXPECT_FALSE(client::UploadsKindCounts(dp, policy));
  policy.set_upload_prototypes(false);
  EXPECT_FALSE(client::UploadsKindCounts(plain, policy));
  // Unlabelled sources send nothing; labels and lines must agree in number.
  auto none = client::SourceKindCounts("HDFS", "HDFS", {testing::HdfsLine(0)}, {-1});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(client::SourceKindCounts("HDFS", "HDFS", {testing::HdfsLine(0)}, {1, 0}).ok());
}

}  // namespace
}  // namespace fedlog::client::detect
