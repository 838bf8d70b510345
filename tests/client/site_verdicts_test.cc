// The operator's verdicts in a site's kind counts (client/site_kinds.h MergeOperatorVerdicts,
// client/site_verdicts.h ReadOperatorVerdicts; docs/LABELING.md "What the federation learns from your
// verdicts"): a site with verdicts only uploads counts, a line labelled twice is one unit, the per-site cap
// holds, a "whole template is normal" verdict is one unit, session verdicts count only for a session-keyed
// source, the imported labels files' rows are not verdicts, and a damaged store is an error naming the file;
// and what a fetched model's counts decide of a site's own kinds (SourceKindCoverage).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/detect/detect_store.h"
#include "client/detect/label_verdicts.h"
#include "client/site_kinds.h"
#include "client/site_verdicts.h"
#include "common/base/file_util.h"
#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "common/logparse/line_parser.h"
#include "gtest/gtest.h"

namespace fedlog::client {
namespace {

constexpr char kPattern[] = "(blk_-?[0-9]+)";

// An HDFS line of block blk_`block` saying `what` (its numbers vary with `n`, its kind does not).
std::string Line(int n, int block, const std::string& what) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "081109 2036%02d %d INFO dfs.DataNode$PacketResponder: %s blk_%d", n % 60,
                100 + n, what.c_str(), block);
  return buf;
}

uint64_t KindOf(const std::string& line) {
  auto parser = logparse::CreateLineParser("HDFS");
  EXPECT_TRUE(parser.ok());
  logparse::ParsedLine parsed;
  (*parser)->Parse(line, &parsed);
  return kinds::KindSignature(parsed.content).value_or(0);
}

kinds::KindSketch SketchOf(const v1::KindCounts& k) {
  auto sketch = kinds::KindSketch::FromSparse(std::vector<uint32_t>(k.bucket().begin(), k.bucket().end()),
                                              std::vector<double>(k.count().begin(), k.count().end()));
  EXPECT_TRUE(sketch.ok()) << sketch.status();
  return sketch.ok() ? *sketch : kinds::KindSketch();
}

TEST(OperatorVerdictsTest, ASiteWithVerdictsOnlyUploadsCounts) {
  const std::vector<std::string> raw = {Line(0, 1, "Receiving block"), Line(1, 2, "Receiving block")};
  // No labels file: without verdicts there is nothing to count.
  auto none = SourceKindCounts("HDFS", "HDFS", MergeOperatorVerdicts(raw, {}, {}, false, nullptr));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  const std::vector<OperatorVerdict> verdicts = {{Line(5, 3, "Exception writing"), 1, false},
                                                 {raw[0], 0, false}};
  VerdictMerge stats;
  KindLines lines = MergeOperatorVerdicts(raw, {}, verdicts, false, &stats);
  EXPECT_EQ(stats.added, 2);
  EXPECT_EQ(stats.replaced, 0);
  auto counts = SourceKindCounts("HDFS", "HDFS", lines);
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_TRUE(counts->has_value());
  const kinds::KindSketch sketch = SketchOf(**counts);
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(Line(9, 9, "Exception writing"))), 1);
  EXPECT_DOUBLE_EQ(sketch.Normal(KindOf(raw[1])), 1);  // the verdict on raw[0], not raw[1] itself
  EXPECT_DOUBLE_EQ(sketch.Normal(KindOf(Line(9, 9, "Exception writing"))), 0);
}

TEST(OperatorVerdictsTest, ALineLabelledTwiceIsOneUnit) {
  const std::vector<std::string> raw = {Line(0, 1, "Receiving block"), Line(1, 2, "Deleting block") + "\r"};
  const std::vector<int> labels = {-1, 1};
  // The file labels raw[1] anomalous; the operator later calls the same line normal, twice (an alert verdict,
  // then `fedlog label`), and labels a new line anomalous twice then normal: the newest verdict counts, once.
  const std::vector<OperatorVerdict> verdicts = {{Line(1, 2, "Deleting block"), 0, false},
                                                 {Line(1, 2, "Deleting block"), 0, false},
                                                 {Line(7, 7, "Exception writing"), 1, false},
                                                 {Line(7, 7, "Exception writing"), 1, false},
                                                 {Line(7, 7, "Exception writing"), 0, false}};
  VerdictMerge stats;
  KindLines lines = MergeOperatorVerdicts(raw, labels, verdicts, false, &stats);
  EXPECT_EQ(stats.replaced, 1);
  EXPECT_EQ(stats.added, 1);
  EXPECT_EQ(stats.duplicates, 3);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines.labels, (std::vector<int>{-1, 0, 0}));
  auto counts = SourceKindCounts("HDFS", "HDFS", lines);
  ASSERT_TRUE(counts.ok() && counts->has_value());
  const kinds::KindSketch sketch = SketchOf(**counts);
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(raw[1])), 0);
  EXPECT_DOUBLE_EQ(sketch.Normal(KindOf(raw[1])), 1);
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(Line(7, 7, "Exception writing"))), 0);
  EXPECT_DOUBLE_EQ(sketch.Normal(KindOf(Line(7, 7, "Exception writing"))), 1);
}

TEST(OperatorVerdictsTest, TheSiteCapHoldsOverFileLabelsAndVerdicts) {
  std::vector<std::string> raw;
  std::vector<int> labels;
  for (int i = 0; i < 10; ++i) {
    raw.push_back(Line(i, i, "Exception writing"));
    labels.push_back(1);
  }
  std::vector<OperatorVerdict> verdicts;
  for (int i = 10; i < 40; ++i) verdicts.push_back({Line(i, i, "Exception writing"), i % 3 == 0 ? 0 : 1, false});
  auto counts = SourceKindCounts("HDFS", "HDFS", MergeOperatorVerdicts(raw, labels, verdicts, false, nullptr));
  ASSERT_TRUE(counts.ok() && counts->has_value());
  const kinds::KindSketch sketch = SketchOf(**counts);
  const uint64_t kind = KindOf(raw[0]);
  EXPECT_NEAR(sketch.Anomalous(kind) + sketch.Normal(kind), kinds::kSiteBucketCap, 1e-9);
  EXPECT_GT(sketch.Normal(kind), 0);  // the verdicts' normal share is kept within the cap
  for (double c : (*counts)->count()) EXPECT_LE(c, kinds::kSiteBucketCap + 1e-9);
}

TEST(OperatorVerdictsTest, NoBucketAboveTheLinesTheSiteDeclares) {
  // The aggregator bounds each bucket by the lines the site declared of the source (its file's): verdicts on
  // more lines than the file holds must not break that bound.
  const std::vector<std::string> raw = {Line(0, 1, "Receiving block"), Line(1, 2, "Receiving block")};
  std::vector<OperatorVerdict> verdicts;
  for (int i = 10; i < 16; ++i) verdicts.push_back({Line(i, i, "Exception writing"), 1, false});
  auto counts = SourceKindCounts("HDFS", "HDFS", MergeOperatorVerdicts(raw, {}, verdicts, false, nullptr));
  ASSERT_TRUE(counts.ok() && counts->has_value());
  EXPECT_DOUBLE_EQ(SketchOf(**counts).Anomalous(KindOf(verdicts[0].line)), 2);
  for (double c : (*counts)->count()) EXPECT_LE(c, 2 + 1e-9);
}

TEST(OperatorVerdictsTest, SessionVerdictsCountOnlyForASessionKeyedSource) {
  // Block 5's lines are in the file, unlabelled; the operator calls its session anomalous (a verdict stored on
  // its last line).
  const std::vector<std::string> raw = {Line(0, 5, "Receiving block"), Line(1, 5, "Exception writing"),
                                        Line(2, 5, "PacketResponder terminating for"), Line(3, 6, "Receiving block")};
  const std::vector<OperatorVerdict> verdicts = {{raw[2], 1, true}};
  VerdictMerge stats;
  auto as_lines = SourceKindCounts("HDFS", "HDFS", MergeOperatorVerdicts(raw, {}, verdicts, false, &stats));
  ASSERT_TRUE(as_lines.ok()) << as_lines.status();
  EXPECT_FALSE(as_lines->has_value());  // not a verdict on the line
  EXPECT_EQ(stats.skipped, 1);
  auto as_session =
      SessionKindCounts("HDFS", "HDFS", MergeOperatorVerdicts(raw, {}, verdicts, true, &stats), kPattern);
  ASSERT_TRUE(as_session.ok()) << as_session.status();
  ASSERT_TRUE(as_session->has_value());
  EXPECT_EQ(stats.added, 1);
  const kinds::KindSketch sketch = SketchOf(**as_session);
  // One unit over the session's distinct kinds, from the file's lines of the block.
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(raw[0])), 1);
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(raw[1])), 1);
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(raw[2])), 1);
  EXPECT_DOUBLE_EQ(sketch.Anomalous(KindOf(raw[3])) + sketch.Normal(KindOf(raw[3])), 1);  // the same kind
}

// What the daemon logs when a model arrives (SiteDaemon::LogKindCoverage): of the site's own distinct kinds,
// how many the manifest's counts decide, and which way.
TEST(SourceKindCoverageTest, CountsTheSitesKindsTheFederationDecides) {
  std::vector<std::string> raw;
  std::vector<int> labels;
  for (int i = 0; i < 5; ++i) {
    raw.push_back(Line(i, i, "Exception writing"));
    labels.push_back(1);
    raw.push_back(Line(i, i, "Receiving block"));
    labels.push_back(0);
  }
  raw.push_back(Line(9, 9, "Deleting block"));  // a kind nobody labelled
  labels.push_back(-1);
  auto counts = SourceKindCounts("HDFS", "HDFS", raw, labels);
  ASSERT_TRUE(counts.ok() && counts->has_value());
  v1::KindCounts two_sites = **counts;
  for (double& c : *two_sites.mutable_count()) c *= 2;
  const kinds::KindVerdictOptions options;  // a normal verdict needs two sites' counts
  auto one = SourceKindCoverage("HDFS", raw, **counts, options);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->kinds, 3);
  EXPECT_EQ(one->anomalous, 1);
  EXPECT_EQ(one->normal, 0);
  auto two = SourceKindCoverage("HDFS", raw, two_sites, options);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->kinds, 3);
  EXPECT_EQ(two->anomalous, 1);
  EXPECT_EQ(two->normal, 1);
  v1::KindCounts bad = two_sites;
  bad.add_bucket(bad.bucket(0));  // listed twice
  bad.add_count(1);
  EXPECT_FALSE(SourceKindCoverage("HDFS", raw, bad, options).ok());
}

class ReadOperatorVerdictsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedlog_site_verdicts_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = JoinPath(dir_, "detect.db");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Add(const std::string& source, const std::string& line, int label, const std::string& origin) {
    auto store = detect::DetectStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->AddLabel({source, line, label, {}, {}, origin}, 1).ok());
  }
  std::string dir_, db_;
};

TEST_F(ReadOperatorVerdictsTest, OnlyTheOperatorsVerdictsOldestFirst) {
  auto missing = ReadOperatorVerdicts(db_);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE(missing->empty());
  Add("HDFS", "file line", 1, "labels_file:3");              // imported labels file: counted from the file
  Add("HDFS", "labelled log line", 0, "labels:/x/HDFS.log:4");  // imported labelled log: likewise
  Add("HDFS", "alert line", 1, "feedback:alert-17");          // `fedlog feedback`
  Add("HDFS", "label line", 0, detect::LineVerdictOrigin("HDFS", "label line"));
  Add("Apache", "example line", 0, detect::TemplateVerdictOrigin("Apache", "jk2_init() Found child <*>"));
  Add("HDFS", "session line", 1, detect::SessionVerdictOrigin("HDFS", "session line"));
  auto v = ReadOperatorVerdicts(db_);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 2u);
  const std::vector<OperatorVerdict>& hdfs = v->at("HDFS");
  ASSERT_EQ(hdfs.size(), 3u);
  EXPECT_EQ(hdfs[0].line, "alert line");
  EXPECT_EQ(hdfs[0].label, 1);
  EXPECT_EQ(hdfs[1].line, "label line");
  EXPECT_FALSE(hdfs[1].session);
  EXPECT_EQ(hdfs[2].line, "session line");
  EXPECT_TRUE(hdfs[2].session);
  // "Whole template is normal": one normal verdict on its example line.
  ASSERT_EQ(v->at("Apache").size(), 1u);
  EXPECT_EQ(v->at("Apache")[0].line, "example line");
  EXPECT_EQ(v->at("Apache")[0].label, 0);
}

TEST_F(ReadOperatorVerdictsTest, ADamagedStoreIsAnErrorNamingTheFile) {
  ASSERT_TRUE(WriteFileAtomic(db_, std::string(4096, 'x')).ok());
  auto v = ReadOperatorVerdicts(db_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find(db_), std::string::npos) << v.status();
}

}  // namespace
}  // namespace fedlog::client
