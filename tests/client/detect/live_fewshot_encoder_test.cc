// The labels' class means in the model's encoder space in live label-free detection
// (detect.fewshot_encoder_weight, detect.label_free_with_model; LiveFewShot and LinePipeline): the
// rule eval newsite measures as "fewshot + encoder" (fewshot::FewShotOptions::encoder_weight).
#include <string>
#include <vector>

#include "client/detect/detect_options.h"
#include "client/detect/line_pipeline.h"
#include "client/detect/live_fewshot.h"
#include "client/detect/model_loader.h"
#include "common/config/yaml_proto.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

double Fused(double squashed) { return squashed / (1.0 - squashed); }  // LiveFewShot::Squash's inverse

absl::StatusOr<DetectOptions> Options(const std::string& extra) {
  v1::ClientConfig c;
  const std::string yaml = "data_dir: x\ndetect: {sources: [{name: A, paths: [a]}]" + extra + "}\n";
  if (absl::Status st = config::ParseYamlToMessage(yaml, &c); !st.ok()) return st;
  return DetectOptionsFromConfig(c, "/etc/fedlog");
}

TEST(LiveFewShotEncoderTest, ConfigDefaultsAndRange) {
  auto o = Options("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).encoder_weight, DetectOptions().fewshot_encoder_weight);
  EXPECT_FALSE(o->label_free_with_model);
  o = Options(", fewshot_encoder_weight: 0.25, label_free_with_model: true");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).encoder_weight, 0.25);
  EXPECT_TRUE(o->label_free_with_model);
  o = Options(", fewshot_encoder_weight: -1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(FewShotRule(*o).encoder_weight, 0);  // off
  EXPECT_FALSE(Options(", fewshot_encoder_weight: 1.5").ok());
}

// A line of middling label-free score, which the label-free detector did not alert on, alerts once
// the labels' class means say it lies with the anomalous labels; a line the label-free detector
// alerted on that lies with the normal labels stops. Without the encoder weight, neither changes.
TEST(LiveFewShotEncoderTest, ClassMeansReorderTheLinesNoLabelDecides) {
  for (double weight : {0.0, 0.8}) {
    fewshot::FewShotOptions fo;
    fo.encoder_weight = weight;
    auto f = LiveFewShot::Create(1, fo);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->wants_embeddings(), weight > 0);
    for (int i = 0; i < 1000; ++i) {
      const double x = (i + 0.5) / 1000.0;
      const float t = 0.0005f * static_cast<float>((i * 37) % 1000);  // an order unrelated to x
      f->Observe(0, Fused(x), x >= 0.95, std::vector<float>{0.5f + t, 1.0f - t, 1.0f});
    }
    f->Begin();
    f->AddLabel(0, 1, "torus link failure", 1, Fused(0.5), std::vector<float>{1, 0, 0});
    f->AddLabel(0, 2, "job started on partition", 0, Fused(0.5), std::vector<float>{0, 1, 0});
    f->End();
    EXPECT_EQ(f->encoder(0), weight > 0);
    const std::vector<float> anomalous_like = {1, 0.05f, 0}, normal_like = {0.05f, 1, 0};
    EXPECT_EQ(f->Alerts(0, Fused(0.9), false, anomalous_like), weight > 0) << weight;
    EXPECT_EQ(f->Alerts(0, Fused(0.99), true, normal_like), weight == 0) << weight;
  }
}

// With label_free_with_model a source stays label-free when a model that could score it arrives,
// and the model embeds its lines for the labels' class means; without it the model scores it.
TEST(LiveFewShotEncoderTest, PipelineKeepsLabelFreeWithAModelAndUsesItsEncoder) {
  for (bool keep : {false, true}) {
    auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
    ASSERT_TRUE(p.ok()) << p.status();
    novelty::NoveltyOptions o;
    o.expected_alert_rate = 0.02;
    fewshot::FewShotOptions fo;
    fo.encoder_weight = 0.5;
    ASSERT_TRUE((*p)->EnableLabelFree(o, "", 0.3, fo).ok());
    (*p)->KeepLabelFreeWithModel(keep);
    const model::EncoderSpec spec = testing::SmallSpec((*p)->feature_dim(), {"HDFS"});
    auto m = BuildDetectionModel(spec, testing::SmallWeights(spec, 3), 7, {"HDFS"}, {}, 0);
    ASSERT_TRUE(m.ok()) << m.status();
    (*p)->SetModel(std::move(*m));
    LineResult r;
    for (int i = 0; i < 400; ++i) (*p)->Process(0, testing::HdfsLine(i), &r);
    (*p)->SetLabelFreeLabels({{0, testing::HdfsLine(1), 1}, {0, testing::HdfsLine(2), 0}});
    EXPECT_EQ((*p)->fewshot_encoder(0), keep) << keep;
    // A line of the labelled anomalous template: the labels decide it on the label-free path; the
    // model path knows no LiveFewShot.
    (*p)->Process(0, testing::HdfsLine(405), &r);
    EXPECT_EQ(r.label_match, keep ? 1 : -1) << keep;
    EXPECT_EQ(r.alert, keep ? true : r.score >= (*p)->model()->thresholds.at("HDFS")) << keep;
  }
}

}  // namespace
}  // namespace fedlog::client::detect
