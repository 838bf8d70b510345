#include "common/eval/report.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"

namespace fedlog::eval {
namespace {

SourceResult Row(const std::string& name, double f1, bool ranking) {
  SourceResult r;
  r.source = name;
  r.metrics.f1 = f1;
  r.metrics.auroc = ranking ? f1 : 0.5;
  r.metrics.ranking_defined = ranking;
  r.metrics.confusion = ConfusionMatrix{.tp = 1, .fp = 2, .tn = 3, .fn = 4};
  return r;
}

TEST(AggregateTest, PopulationStd) {
  // mean(0.5, 0.7, 0.9) = 0.7; variance = (0.04 + 0 + 0.04) / 3.
  MeanStd ms = ComputeMeanStd(std::vector<double>{0.5, 0.7, 0.9});
  EXPECT_DOUBLE_EQ(ms.mean, 0.7);
  EXPECT_NEAR(ms.std, std::sqrt(0.08 / 3), 1e-12);
  EXPECT_EQ(ComputeMeanStd(std::vector<double>{}).mean, 0.0);
}

TEST(AggregateTest, RankingMetricsSkipOneClassSources) {
  std::vector<SourceResult> rows = {Row("a", 0.5, true), Row("b", 0.9, true), Row("c", 0.0, false)};
  AggregateMetrics a = Aggregate(rows);
  EXPECT_EQ(a.sources, 3);
  EXPECT_EQ(a.ranking_sources, 2);
  EXPECT_NEAR(a.f1.mean, 1.4 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(a.auroc.mean, 0.7);
  EXPECT_NEAR(a.auroc.std, 0.2, 1e-12);
}

TEST(ReportTest, JsonAndMarkdownCarryRowsAndAggregate) {
  EvalReport report{"LOSO \"demo\"", {Row("bgl", 0.5, true), Row("hdfs|x", 0.9, false)}};
  const std::string json = RenderJson(report);
  EXPECT_NE(json.find("\"title\": \"LOSO \\\"demo\\\"\""), std::string::npos);
  EXPECT_NE(json.find("\"source\": \"bgl\", \"support\": 10, \"tp\": 1"), std::string::npos);
  EXPECT_NE(json.find("\"auroc\": null"), std::string::npos);
  EXPECT_NE(json.find("\"f1\": {\"mean\": 0.7, \"std\": 0.2}"), std::string::npos);
  const std::string md = RenderMarkdown(report);
  std::vector<std::string> lines = absl::StrSplit(md, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u);  // heading, header, rule, 2 rows, aggregate
  EXPECT_NE(lines[4].find("hdfs\\|x"), std::string::npos);
  EXPECT_NE(lines[4].find("n/a"), std::string::npos);
  EXPECT_NE(lines[5].find("0.7000 ± 0.2000"), std::string::npos);
}

TEST(ReportTest, WritesBothFiles) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedlog_eval_XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  EvalReport report{"t", {Row("a", 0.5, true)}};
  ASSERT_TRUE(WriteReport(report, dir + "/r.json", dir + "/r.md").ok());
  EXPECT_EQ(*ReadFile(dir + "/r.json"), RenderJson(report));
  EXPECT_EQ(*ReadFile(dir + "/r.md"), RenderMarkdown(report));
  EXPECT_FALSE(WriteReport(report, "/nonexistent/fedlog/r.json", "").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedlog::eval
