// Which detector scores a source in live detection (LinePipeline::SetDetectorChoice,
// detect.detector_choice; common/fewshot/detector_choice.h): a model with prototypes.global that
// arrives does not displace the label-free detector until the site's labels favour the model.
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/detect/detector.h"
#include "common/base/file_util.h"
#include "client/detect/detect_options.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/model_loader.h"
#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

using Labels = std::vector<std::tuple<int, std::string, int>>;

absl::StatusOr<DetectOptions> Options(const std::string& extra) {
  v1::ClientConfig c;
  const std::string yaml = "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]" + extra + "}\n";
  if (absl::Status st = config::ParseYamlToMessage(yaml, &c); !st.ok()) return st;
  return DetectOptionsFromConfig(c, "/etc/fedlog");
}

TEST(DetectorChoiceConfigTest, DefaultsModesAndRanges) {
  auto o = Options("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->detector_choice.mode, kDefaultDetectorChoice);
  EXPECT_DOUBLE_EQ(o->detector_choice.margin, fewshot::ChoiceOptions().margin);
  o = Options(", expected_alert_rate: 0.01, detector_choice: label_free, detector_choice_margin: 0.3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->detector_choice.mode, fewshot::ChoiceMode::kLabelFree);
  EXPECT_DOUBLE_EQ(o->detector_choice.margin, 0.3);
  o = Options(", detector_choice: model, detector_choice_margin: -1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->detector_choice.mode, fewshot::ChoiceMode::kModel);
  EXPECT_DOUBLE_EQ(o->detector_choice.margin, 0);  // < 0: no margin
  EXPECT_FALSE(Options(", detector_choice: sometimes").ok());
  EXPECT_FALSE(Options(", detector_choice: label_free").ok());  // no label-free detector
  EXPECT_FALSE(Options(", detector_choice: model, label_free_with_model: true").ok());
  EXPECT_FALSE(Options(", detector_choice_margin: 1.5").ok());
  EXPECT_EQ(Options("")->detector_choice.compare, fewshot::ChoiceOptions().compare);
  o = Options(", detector_choice_compare: lines");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->detector_choice.compare, fewshot::CompareUnits::kLines);
  o = Options(", detector_choice_compare: templates");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->detector_choice.compare, fewshot::CompareUnits::kTemplates);
  o = Options(", detector_choice_compare: blocks");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("detect.detector_choice_compare"), std::string::npos);
}

// An HDFS line of template `tpl` (0: PacketResponder terminating, 3: WARN exception) with an extra
// word, so that every labelled line has a token set of its own (leave-one-out then leaves it alone).
std::string Variant(int tpl, const std::string& word, int i) {
  return tpl == 0 ? absl::StrCat("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_",
                                 900 + i, " terminating ", word)
                  : absl::StrCat("081109 204106 329 WARN dfs.DataNode$DataXceiver: 10.251.30.", i,
                                 ":50010:Got exception while serving blk_", 800 + i, " to /10.251.90.", i, ": ", word);
}

// `per_class` anomalous lines of template 0 and as many normal ones of template 3: the model's
// encoder puts each class together, while no label's words are near another's (fewshot_match 1).
Labels SeparatedLabels(int per_class) {
  const std::vector<std::string> words = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"};
  Labels out;
  for (int i = 0; i < per_class; ++i) {
    out.emplace_back(0, Variant(0, words[static_cast<size_t>(i)], i), 1);
    out.emplace_back(0, Variant(3, words[static_cast<size_t>(i)], i), 0);
  }
  return out;
}

std::unique_ptr<LinePipeline> LabelFreePipeline(fewshot::ChoiceMode mode,
                                                fewshot::CompareUnits compare = fewshot::CompareUnits::kTemplates) {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  EXPECT_TRUE(p.ok()) << p.status();
  novelty::NoveltyOptions o;
  o.expected_alert_rate = 0.02;
  EXPECT_TRUE((*p)->EnableLabelFree(o, "", /*fewshot_match=*/1.0).ok());
  fewshot::ChoiceOptions c;
  c.mode = mode;
  c.compare = compare;
  EXPECT_TRUE((*p)->SetDetectorChoice(c).ok());
  return std::move(*p);
}

std::unique_ptr<DetectionModel> GlobalModel(const LinePipeline& p) {
  const model::EncoderSpec spec = testing::SmallSpec(p.feature_dim(), {});
  auto m = BuildDetectionModel(spec, testing::SmallWeights(spec, 3), 7, {"HDFS"}, {}, 0);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

TEST(DetectorChoiceTest, AModelStaysOutUntilTheLabelsFavourIt) {
  auto p = LabelFreePipeline(fewshot::ChoiceMode::kAuto);
  LineResult r;
  for (int i = 0; i < 400; ++i) p->Process(0, testing::HdfsLine(i), &r);
  EXPECT_FALSE(r.model_scored);
  p->SetLabelFreeLabels(SeparatedLabels(6));
  EXPECT_FALSE(p->choice(0).model) << p->choice(0).reason;  // no model yet
  const int64_t version = p->choices_version();
  p->SetModel(GlobalModel(*p));  // the global model arrives: reviewed at once
  EXPECT_GT(p->choices_version(), version);
  EXPECT_TRUE(p->choice(0).model) << p->choice(0).reason;
  EXPECT_DOUBLE_EQ(p->choice(0).model_f1, 1.0);
  EXPECT_LT(p->choice(0).label_free_f1, 1.0 - fewshot::ChoiceOptions().margin);
  p->Process(0, testing::HdfsLine(401), &r);
  EXPECT_TRUE(r.model_scored);
  EXPECT_GE(r.score, 0);
  // Fewer labels than the comparison needs: back to the label-free detector.
  p->SetLabelFreeLabels(SeparatedLabels(2));
  EXPECT_FALSE(p->choice(0).model) << p->choice(0).reason;
  p->Process(0, testing::HdfsLine(402), &r);
  EXPECT_FALSE(r.model_scored);
}

// detect.detector_choice_compare live: the same labels, each line labelled three times. By token set the
// label-free side meets no exact match and the model takes the source; by line each label's twins decide
// it, as on the stream, and the label-free detector keeps it.
TEST(DetectorChoiceTest, ComparingOnLinesKeepsTheTwinsTheStreamMatches) {
  Labels thrice;
  for (const auto& label : SeparatedLabels(6)) thrice.insert(thrice.end(), 3, label);
  for (fewshot::CompareUnits compare : {fewshot::CompareUnits::kTemplates, fewshot::CompareUnits::kLines}) {
    auto p = LabelFreePipeline(fewshot::ChoiceMode::kAuto, compare);
    LineResult r;
    for (int i = 0; i < 400; ++i) p->Process(0, testing::HdfsLine(i), &r);
    p->SetLabelFreeLabels(thrice);
    p->SetModel(GlobalModel(*p));
    const fewshot::Choice& c = p->choice(0);
    EXPECT_EQ(c.anomalous, 6) << c.reason;  // distinct token sets under both
    EXPECT_EQ(c.normal, 6) << c.reason;
    if (compare == fewshot::CompareUnits::kTemplates) {
      EXPECT_TRUE(c.model) << c.reason;
      EXPECT_EQ(c.compared, 12);
    } else {
      EXPECT_FALSE(c.model) << c.reason;
      EXPECT_EQ(c.compared, 36);
      EXPECT_DOUBLE_EQ(c.label_free_f1, 1.0) << c.reason;
      EXPECT_TRUE(absl::StrContains(c.reason, "on 36 labelled lines")) << c.reason;
    }
  }
}

TEST(DetectorChoiceTest, TheModelArrivingWithoutLabelsKeepsTheLabelFreeDetector) {
  for (fewshot::ChoiceMode mode :
       {fewshot::ChoiceMode::kAuto, fewshot::ChoiceMode::kModel, fewshot::ChoiceMode::kLabelFree}) {
    auto p = LabelFreePipeline(mode);
    LineResult r;
    for (int i = 0; i < 200; ++i) p->Process(0, testing::HdfsLine(i), &r);
    p->SetModel(GlobalModel(*p));
    for (int i = 200; i < 300; ++i) p->Process(0, testing::HdfsLine(i), &r);
    EXPECT_EQ(r.model_scored, mode == fewshot::ChoiceMode::kModel) << p->choice(0).reason;
    // Forced label_free stays so even with labels that favour the model.
    p->SetLabelFreeLabels(SeparatedLabels(6));
    p->Process(0, testing::HdfsLine(300), &r);
    EXPECT_EQ(r.model_scored, mode != fewshot::ChoiceMode::kLabelFree) << p->choice(0).reason;
  }
}

// The daemon: a promoted model with prototypes.global on disk and label-free scoring on. With no labels the
// source stays label-free, /healthz's notes say so, and the alert names its detector.
TEST(DetectorChoiceTest, TheDaemonSaysWhichDetectorScoresAndAlertsNameIt) {
  const std::string dir = testing::FreshDir("choice_daemon");
  const std::string log = dir + "/app.log";
  const DetectOptions o = testing::HdfsDetectOptions(dir, log);
  EXPECT_EQ(o.detector_choice.mode, kDefaultDetectorChoice);
  auto probe = LinePipeline::Create(o.sources);
  ASSERT_TRUE(probe.ok()) << probe.status();
  const model::EncoderSpec spec = testing::SmallSpec((*probe)->feature_dim(), {});
  ASSERT_TRUE(MakeDirs(o.data_dir).ok());
  ASSERT_TRUE(testing::WritePromotedModel(o.data_dir, spec, testing::SmallWeights(spec, 5), 3).ok());
  {
    std::ofstream f(log);
    for (int i = 0; i < 1500; ++i) f << testing::HdfsLine(i) << "\n";
    f << "081109 214043 2561 ERROR dfs.DataNode: Connection reset by peer while FATAL disk failure\n";
  }
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::Status run;
  std::thread t([&] { run = (*d)->Run(); });
  std::string alerts, notes;
  EXPECT_TRUE(testing::WaitFor([&] {
    notes = absl::StrJoin((*d)->Notes(), "; ");
    auto text = ReadFile(o.alerts_file);
    if (text.ok()) alerts = *text;
    return (*d)->model_version() == 3 && (*d)->lines_processed() >= 1501 && absl::StrContains(alerts, "\"detector\"") &&
           absl::StrContains(notes, "scored by");
  })) << notes << "\n" << alerts;
  (*d)->Stop();
  t.join();
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_TRUE(absl::StrContains(notes, "source HDFS: scored by label-free (auto: 0 anomalous")) << notes;
  EXPECT_TRUE(absl::StrContains(alerts, "\"detector\":\"label-free\"")) << alerts;
  EXPECT_FALSE(absl::StrContains(alerts, "\"detector\":\"model\"")) << alerts;
}

}  // namespace
}  // namespace fedlog::client::detect
