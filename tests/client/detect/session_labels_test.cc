// Session labels in live label-free detection: a labelled line that carries a session labels that
// session, and the session threshold moves with it at once (LinePipeline::SetLabelFreeLabels ->
// LabelFreeScorer -> novelty::SessionScorer::AddLabel); a line of a session still open labels it
// when it closes.
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "client/detect/line_pipeline.h"
#include "common/novelty/scorer.h"
#include "gtest/gtest.h"

namespace fedlog::client::detect {
namespace {

// One HDFS line of block blk_(9000 + block) at `second` seconds after 20:00:00.
std::string Line(int second, int block, const char* what) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "081109 %02d%02d%02d 143 INFO dfs.DataNode$PacketResponder: %s blk_%d",
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
  Block(300, false);  // closes block 299's session and the ones before
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

}  // namespace
}  // namespace fedlog::client::detect
