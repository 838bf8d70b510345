// `eval detect --models fewshot` (eval_detect_fewshot.cc): the LOSO few-shot row maps dataset rows to the
// held-out source's label-free units, scores the test rows with common/fewshot's detector fitted on the
// support rows (threshold in quantiles of the source's scores; DecisionScore, so one cut decides as
// FewShotDetector::Alert) and refuses rows of another source.
#include <string>
#include <vector>

#include "common/fewshot/fewshot.h"
#include "gtest/gtest.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

fewshot::Unit LineUnit(int32_t tpl, const std::string& text, double score, bool alert = false) {
  fewshot::Unit u;
  fewshot::AddTokens(tpl, text, &u);
  fewshot::Finish(&u);
  u.free_score = score;
  u.free_alert = alert;
  return u;
}

TEST(EvalDetectFewShotTest, ScoresTheSourcesRowsWithTheFewShotDetector) {
  DetectDataset d;
  d.group = {"Apache", "Apache", "Zookeeper", "Zookeeper", "Zookeeper", "Zookeeper", "Zookeeper"};
  d.y = {0, 1, 1, 0, 1, 0, 0};
  LosoLabelFree src;
  src.source = "Zookeeper";
  src.first_row = 2;
  src.units = {LineUnit(1, "connection broken for id", 0.9), LineUnit(2, "snapshot taken", 0.2),
               LineUnit(1, "connection broken for id", 0.4), LineUnit(3, "leader election started", 0.95, true),
               LineUnit(4, "session established", 0.1)};
  src.free_threshold = 0.8;
  for (const fewshot::Unit& u : src.units) src.reference.push_back(u.free_score);
  const std::vector<size_t> support = {2, 3}, test = {4, 5, 6};
  absl::StatusOr<ModelRun> run = ScoreFewShotLoso(src, d, support, test);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->model, "fewshot");
  ASSERT_EQ(run->scores.size(), 3u);
  // Row 4 repeats the anomalous support line: matched, ranked above every label-free score.
  EXPECT_GT(run->scores[0], 2.0);
  EXPECT_GE(run->scores[0], run->threshold);
  // Rows 5 and 6 are near no label: their label-free scores and decisions (row 5 alerted label-free
  // above the threshold, row 6 did not), so the one cut on DecisionScore decides as Alert does.
  EXPECT_DOUBLE_EQ(run->scores[1], 0.95);
  EXPECT_DOUBLE_EQ(run->scores[2], 0.1);
  auto direct = fewshot::FewShotDetector::Fit({src.units[0], src.units[1]}, {1, 0}, {},
                                              src.free_threshold, src.reference);
  ASSERT_TRUE(direct.ok());
  EXPECT_DOUBLE_EQ(run->threshold, direct->threshold());
  EXPECT_GE(run->scores[1], run->threshold);
  EXPECT_LT(run->scores[2], run->threshold);
  // The same row without the label-free alert: held just below the threshold (no alert added by labels).
  LosoLabelFree quiet = src;
  quiet.units[3].free_alert = false;
  absl::StatusOr<ModelRun> held = ScoreFewShotLoso(quiet, d, support, test);
  ASSERT_TRUE(held.ok());
  EXPECT_LT(held->scores[1], held->threshold);
  EXPECT_GT(held->scores[1], 0.5);
  // A row of another source (or past the end) is refused, not read out of range.
  EXPECT_EQ(ScoreFewShotLoso(src, d, {0}, test).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScoreFewShotLoso(src, d, support, {7}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedlog::offline
