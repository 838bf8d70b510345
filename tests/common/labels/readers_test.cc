// Ground-truth readers: synthetic cases for formats and errors, real data (skipped when absent) for
// counts.
#include <zlib.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/labels/alert_tags.h"
#include "common/labels/hadoop_labels.h"
#include "common/labels/hdfs_labels.h"
#include "common/labels/seed_labeled.h"
#include "gtest/gtest.h"
#include "tests/common/labels/test_data.h"

namespace fedlog::labels {
namespace {

// ---- BGL / Thunderbird alert tags ----

TEST(AlertTagsTest, DashIsNormalOtherwiseCategory) {
  auto lines = ParseAlertTaggedLog(
      "- 1117838570 2005.06.03 R02 RAS KERNEL INFO cache parity error corrected\n"
      "KERNDTLB 1118536327 2005.06.11 R30 RAS KERNEL FATAL data TLB error interrupt\r\n");
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_FALSE((*lines)[0].alert);
  EXPECT_EQ((*lines)[0].message.substr(0, 10), "1117838570");
  EXPECT_TRUE((*lines)[1].alert);
  EXPECT_EQ((*lines)[1].category, "KERNDTLB");
  EXPECT_EQ((*lines)[1].message.back(), 't');  // CR stripped
  EXPECT_EQ(ToLabel((*lines)[1]).provenance.ToString(), "ground_truth");
  EXPECT_EQ(ToLabel((*lines)[1]).anomaly_type, "KERNDTLB");
}

TEST(AlertTagsTest, MalformedLinesNameTheirNumber) {
  auto blank = ParseAlertTaggedLog("- a b\n\n- c d\n");
  ASSERT_FALSE(blank.ok());
  EXPECT_NE(blank.status().message().find("line 2"), std::string::npos) << blank.status();
  auto tag_only = ParseAlertTaggedLog("- a\nAPPSEV\n");
  ASSERT_FALSE(tag_only.ok());
  EXPECT_NE(tag_only.status().message().find("line 2"), std::string::npos);
  EXPECT_EQ(ReadAlertTaggedLog("/nonexistent/x.log").status().code(), absl::StatusCode::kNotFound);
}

TEST(AlertTagsTest, RealBgl20kHas1458AlertsIn18Categories) {
  FEDLOG_REQUIRE_DATA_FILE(path, "bgl-20k/BGL_20k.log");
  auto lines = ReadAlertTaggedLog(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(lines->size(), 20000u);
  std::map<std::string, int64_t> counts = CountAlertCategories(*lines);
  int64_t alerts = 0;
  for (const auto& [category, n] : counts) alerts += n;
  EXPECT_EQ(alerts, 1458);
  EXPECT_EQ(counts.size(), 18u);
  EXPECT_EQ(counts["KERNDTLB"], 696);
}

TEST(AlertTagsTest, RealLoghub2kBglAndThunderbird) {
  FEDLOG_REQUIRE_DATA_FILE(bgl, "loghub-2k/BGL/BGL_2k.log");
  FEDLOG_REQUIRE_DATA_FILE(tb, "loghub-2k/Thunderbird/Thunderbird_2k.log");
  auto b = ReadAlertTaggedLog(bgl);
  auto t = ReadAlertTaggedLog(tb);
  ASSERT_TRUE(b.ok() && t.ok());
  int64_t b_alerts = 0, t_alerts = 0;
  for (const auto& [c, n] : CountAlertCategories(*b)) b_alerts += n;
  for (const auto& [c, n] : CountAlertCategories(*t)) t_alerts += n;
  EXPECT_EQ(b_alerts, 143);  // the README's figure
  EXPECT_EQ(t->size(), 2000u);
  EXPECT_EQ(t_alerts, 0);  // this 2k sample of Thunderbird holds no alert lines
}

// ---- HDFS ----

TEST(HdfsLabelsTest, ParsesAndValidates) {
  auto labels = ParseHdfsBlockLabels("BlockId,Label\nblk_1,Normal\nblk_-42,Anomaly\n");
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 2u);
  EXPECT_EQ((*labels)[1].block_id, "blk_-42");
  EXPECT_TRUE((*labels)[1].anomalous);
  EXPECT_EQ((*labels)[1].line, 3);
  auto bad_label = ParseHdfsBlockLabels("BlockId,Label\nblk_1,Weird\n");
  EXPECT_NE(bad_label.status().message().find("line 2"), std::string::npos);
  auto dup = ParseHdfsBlockLabels("BlockId,Label\nblk_1,Normal\nblk_1,Normal\n");
  EXPECT_NE(dup.status().message().find("line 3"), std::string::npos);
  EXPECT_FALSE(ParseHdfsBlockLabels("BlockId,Label\nblock1,Normal\n").ok());
  EXPECT_EQ(ParseHdfsBlockLabels("Id,Label\nblk_1,Normal\n").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(HdfsLabelsTest, ExtractsDistinctBlockIdsInOrder) {
  const std::string line =
      "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
      "10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864 blk_-55 blk_ "
      "blk_7128370237687728475";
  std::vector<absl::string_view> ids = ExtractBlockIds(line);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], "blk_7128370237687728475");
  EXPECT_EQ(ids[1], "blk_-55");
  EXPECT_TRUE(ExtractBlockIds("no blocks here").empty());
  EXPECT_EQ(ExtractBlockIds("x blk_12.meta")[0], "blk_12");
  EXPECT_TRUE(IsBlockId("blk_-1"));
  EXPECT_FALSE(IsBlockId("blk_-"));
  EXPECT_FALSE(IsBlockId("blk_1a"));
}

TEST(HdfsLabelsTest, RealLabels11501BlocksWith350Anomalous) {
  FEDLOG_REQUIRE_DATA_FILE(path, "hdfs-v1-2pct/HDFS_2pct_block_labels.csv");
  auto labels = ReadHdfsBlockLabels(path);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->size(), 11501u);
  int anomalous = 0;
  for (const BlockLabel& b : *labels) anomalous += b.anomalous ? 1 : 0;
  EXPECT_EQ(anomalous, 350);
}

TEST(HdfsLabelsTest, RealLogGroupsIntoLabelledSessions) {
  FEDLOG_REQUIRE_DATA_FILE(labels_path, "hdfs-v1-2pct/HDFS_2pct_block_labels.csv");
  FEDLOG_REQUIRE_DATA_FILE(log_path, "hdfs-v1-2pct/HDFS_2pct.log.gz");
  auto labels = ReadHdfsBlockLabels(labels_path);
  ASSERT_TRUE(labels.ok());
  absl::flat_hash_map<std::string, bool> by_id;
  for (const BlockLabel& b : *labels) by_id[b.block_id] = b.anomalous;
  gzFile gz = gzopen(log_path.c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  std::vector<char> buf(1 << 16);
  int64_t lines = 0, multi = 0, unlabelled = 0;
  std::set<std::string> sessions;
  while (gzgets(gz, buf.data(), static_cast<int>(buf.size())) != nullptr) {
    ++lines;
    std::vector<absl::string_view> ids = ExtractBlockIds(buf.data());
    multi += ids.size() > 1 ? 1 : 0;
    for (absl::string_view id : ids) {
      sessions.insert(std::string(id));
      unlabelled += by_id.contains(id) ? 0 : 1;
    }
  }
  gzclose(gz);
  EXPECT_EQ(lines, 222579);
  EXPECT_EQ(multi, 0);  // PROVENANCE: no line mentions more than one block
  EXPECT_EQ(unlabelled, 0);
  EXPECT_EQ(sessions.size(), 11501u);
}

// ---- Hadoop applications ----

constexpr char kHadoopLabels[] =
    "Intro text that is ignored.\n"
    "### WordCount\n"
    "Normal:\n"
    "+ application_1_0005\n"
    "\n"
    "Disk full:\n"
    "+ application_1_0006\n"
    "### PageRank\n"
    "Machine down:\n"
    "+ application_2_0001\n";

TEST(HadoopLabelsTest, ParsesWorkloadsAndFaults) {
  auto apps = ParseHadoopAppLabels(kHadoopLabels);
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 3u);
  EXPECT_EQ((*apps)[0].application_id, "application_1_0005");
  EXPECT_FALSE((*apps)[0].anomalous());
  EXPECT_EQ((*apps)[1].fault, HadoopFault::kDiskFull);
  EXPECT_EQ((*apps)[1].workload, "WordCount");
  EXPECT_EQ((*apps)[2].workload, "PageRank");
  EXPECT_EQ((*apps)[2].line, 10);
  EXPECT_EQ(ToLabel((*apps)[2]).anomaly_type, "machine_down");
}

TEST(HadoopLabelsTest, MalformedFilesNameTheLine) {
  struct Case {
    std::string text, want;
  };
  for (const Case& c : std::vector<Case>{
           {"### W\n+ application_1_1\n", "line 2: application listed before a fault heading"},
           {"### W\nCosmic rays:\n", "line 2: unknown fault heading \"Cosmic rays\""},
           {"### W\nNormal:\n+ app_1\n", "line 3: bad application id \"app_1\""},
           {"### W\nNormal:\n+ application_1_1\n+ application_1_1\n",
            "line 4: application_1_1 listed twice"},
           {"### W\nNormal:\nstray words\n", "line 3: unexpected text \"stray words\""},
           {"nothing here\n", "no application labels found"}}) {
    auto apps = ParseHadoopAppLabels(c.text);
    ASSERT_FALSE(apps.ok()) << c.text;
    EXPECT_EQ(apps.status().message(), c.want);
  }
}

TEST(HadoopLabelsTest, ContainerPathsMapToApplications) {
  EXPECT_EQ(*ApplicationIdFromContainerPath(
                "/data/application_1445062781478_0011/container_1445062781478_0011_01_000001.log"),
            "application_1445062781478_0011");
  EXPECT_EQ(*ApplicationIdFromContainerPath("container_e17_1445062781478_0012_01_000003.log"),
            "application_1445062781478_0012");
  EXPECT_EQ(*ApplicationIdFromContainerPath("/logs/application_7_0001/stderr"),
            "application_7_0001");
  EXPECT_EQ(ApplicationIdFromContainerPath("/logs/syslog").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HadoopLabelsTest, RealLabelsAgreeWithContainerTable) {
  FEDLOG_REQUIRE_DATA_FILE(path, "hadoop-apps/abnormal_label.txt");
  FEDLOG_REQUIRE_DATA_FILE(containers, "hadoop-apps/hadoop_container_labels.csv");
  auto apps = ReadHadoopAppLabels(path);
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_EQ(apps->size(), 55u);
  std::map<HadoopFault, int> per_fault;
  absl::flat_hash_map<std::string, const HadoopAppLabel*> by_id;
  for (const HadoopAppLabel& a : *apps) {
    ++per_fault[a.fault];
    by_id[a.application_id] = &a;
  }
  EXPECT_EQ(per_fault[HadoopFault::kNormal], 11);
  EXPECT_EQ(apps->size() - per_fault[HadoopFault::kNormal], 44u);
  // Every container of the table maps, by path alone, to an application whose fault matches its
  // Class.
  auto text = ReadFile(containers);
  ASSERT_TRUE(text.ok());
  int checked = 0;
  for (absl::string_view row : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(row, ',');
    if (f[0] == "ApplicationId") continue;
    auto app = ApplicationIdFromContainerPath(f[0] + "/" + f[1]);
    ASSERT_TRUE(app.ok()) << app.status();
    ASSERT_EQ(*app, f[0]);
    ASSERT_TRUE(by_id.contains(*app)) << *app;
    const std::string want = f[3] == "Normal" ? "normal" : absl::AsciiStrToLower(f[3]);
    EXPECT_EQ(absl::StrReplaceAll(HadoopFaultName(by_id[*app]->fault), {{"_", " "}}), want) << row;
    ++checked;
  }
  EXPECT_EQ(checked, 974);
}

// ---- seed-labelled 2k ----

TEST(SeedLabeledTest, UsesHeaderNamesAndQuotedFields) {
  auto lines = ParseSeedLabeledCsv(
      "LineId,Extra,Content,EventId,EventTemplate,AnomalyLabel,AnomalyLabelName,Source\n"
      "7,x,\"tag=\"\"View Lock\"\", a,b\",E10,\"tag=\"\"<*>\"\", "
      "<*>\",1,security_anomaly,Android_2k\n"
      "8,y,fine,E11,fine,0,normal,Android_2k\n");
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].content, "tag=\"View Lock\", a,b");
  EXPECT_EQ((*lines)[0].event_template, "tag=\"<*>\", <*>");
  EXPECT_EQ((*lines)[0].line_id, "7");
  EXPECT_TRUE((*lines)[0].anomalous());
  EXPECT_EQ(ToLabel((*lines)[0]).provenance.ToString(), "rule:seed_keywords");
  EXPECT_FALSE((*lines)[1].anomalous());
}

TEST(SeedLabeledTest, RejectsBadLabelsWithLineNumbers) {
  const std::string header = "Content,EventId,EventTemplate,AnomalyLabel,AnomalyLabelName\n";
  auto nan = ParseSeedLabeledCsv(header + "a,E1,a,0,normal\nb,E2,b,x,normal\n");
  EXPECT_EQ(nan.status().message(), "line 3: AnomalyLabel \"x\" is not an integer in 0..6");
  auto mismatch = ParseSeedLabeledCsv(header + "a,E1,a,2,normal\n");
  EXPECT_NE(mismatch.status().message().find("line 2: AnomalyLabel 2 should be named"),
            std::string::npos);
  EXPECT_FALSE(ParseSeedLabeledCsv(header + "a,E1,a,7,other\n").ok());
  EXPECT_EQ(ParseSeedLabeledCsv("Content,EventId\na,b\n").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SeedLabeledTest, RealFilesMatchPublishedCounts) {
  // PROVENANCE.txt of seed-labeled-2k lists the anomalous lines per source (of 2,000 each).
  const std::map<std::string, int> kAnomalous = {
      {"OpenSSH", 2000},    {"Linux", 1906}, {"Hadoop", 1310},   {"HPC", 890},
      {"Windows", 791},     {"Apache", 571}, {"Zookeeper", 514}, {"Mac", 436},
      {"Thunderbird", 195}, {"BGL", 168},    {"Proxifier", 97},  {"Android", 26},
      {"HealthApp", 11},    {"Spark", 8},    {"HDFS", 0},        {"OpenStack", 0}};
  FEDLOG_REQUIRE_DATA_FILE(probe, "seed-labeled-2k/BGL_2k_labeled.csv");
  for (const auto& [source, want] : kAnomalous) {
    auto lines =
        ReadSeedLabeledCsv(testing::DataFile("seed-labeled-2k/" + source + "_2k_labeled.csv"));
    ASSERT_TRUE(lines.ok()) << source << ": " << lines.status();
    EXPECT_EQ(lines->size(), 2000u) << source;
    int anomalous = 0;
    for (const SeedLabeledLine& l : *lines) anomalous += l.anomalous() ? 1 : 0;
    EXPECT_EQ(anomalous, want) << source;
    EXPECT_EQ(lines->front().source, source + "_2k");
  }
}

}  // namespace
}  // namespace fedlog::labels
