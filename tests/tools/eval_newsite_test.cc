// `fedlog eval newsite` end to end on a small BGL-style stream written at test time: k = 0 and
// k > 0 (random and active labels) run, and the report, JSON and learning-curve SVG are written.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

// 1,200 lines: routine RAS INFO lines of six templates, a few harmless ERROR-level lines, and 8%
// tagged incidents (three FATAL templates). Deterministic.
std::string SmallBgl() {
  const std::vector<std::string> routine = {
      "instruction cache parity error corrected", "generating core.%d",
      "CE sym %d, at 0x%08x, mask 0x%02x", "total of %d ddr error(s) detected and corrected",
      "ciod: LOGIN chdir(/home/user%d) failed: No such file or directory",
      "%d floating point alignment exceptions"};
  const std::vector<std::string> bad = {"data TLB error interrupt", "machine check interrupt (bit=0x%02x)",
                                        "rts: kernel terminated for reason %d"};
  std::string out;
  for (int i = 0; i < 1200; ++i) {
    const long long t = 1117838570LL + i * 7;
    const std::string node = absl::StrFormat("R%02d-M1-N%d-C:J%02d-U11", i % 7, i % 3, i % 17);
    const std::string stamp = absl::StrFormat("2005-06-03-15.%02d.%02d.%06d", (i / 60) % 60, i % 60, i * 37 % 1000000);
    std::string tag = "-", level = "INFO", msg;
    if (i % 13 == 5) {
      tag = i % 2 ? "KERNDTLB" : "KERNMC";
      level = "FATAL";
      msg = absl::StrFormat(bad[static_cast<size_t>(i % 3)].c_str(), i % 256);
    } else {
      msg = absl::StrFormat(routine[static_cast<size_t>(i % 6)].c_str(), i, i * 4099, i % 256);
      if (i % 29 == 0) level = "ERROR";
    }
    absl::StrAppend(&out, tag, " ", t, " 2005.06.03 ", node, " ", stamp, " ", node, " RAS KERNEL ", level,
                    " ", msg, "\n");
  }
  return out;
}

TEST(EvalNewsiteTest, RunsKZeroAndKShotAndWritesReportAndCurve) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_small";
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/data/loghub-2k/BGL").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/data/loghub-2k/BGL/BGL_2k.log", SmallBgl()).ok());
  const std::string out = root + "/out";
  ASSERT_EQ(RunEvalNewsite({"--out", out, "--data", root + "/data", "--systems", "bgl2k", "--shots", "2,5",
                            "--seeds", "2", "--ceiling"}),
            0);
  absl::StatusOr<std::string> md = ReadFile(out + "/results.md");
  ASSERT_TRUE(md.ok()) << md.status();
  for (const char* want : {"novelty (k=0, site threshold)", "novelty (k=0, budget only)", "k > 0",
                           "| fewshot | random | 5", "| fewshot | active | 5", "jaccard-1nn", "xgboost",
                           "severity-word rule", "online template rarity", "| fewshot | every pool label | all (",
                           "| xgboost (token bag + signals) | every pool label", "| logreg (token bag + signals) |",
                           "ceiling, lookup:", "half labels (few-shot)",
                           "novelty, rank cut (session 13, window 4096)",
                           "novelty, without the budget window (session 14)",
                           "novelty, recurrence as a count (session 16)",
                           "worst 5000-line window, normal lines",
                           "the labelling pool is the units starting in the first 30% of the stream"}) {
    EXPECT_NE(md->find(want), std::string::npos) << want << "\n" << *md;
  }
  // The stream (1,200 lines) is shorter than the window: the worst window is the whole stream, so
  // the last two columns of the site threshold's row agree.
  const size_t at = md->find("| novelty (k=0, site threshold) |");
  ASSERT_NE(at, std::string::npos);
  const std::vector<std::string> cells =
      absl::StrSplit(md->substr(at, md->find('\n', at) - at), '|', absl::SkipEmpty());
  ASSERT_EQ(cells.size(), 12u) << md->substr(at, 300);
  EXPECT_EQ(cells[9], cells[11]);
  absl::StatusOr<std::string> json = ReadFile(out + "/results.json");
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"kshot\": {"), std::string::npos);
  EXPECT_NE(json->find("\"report_window\": 5000"), std::string::npos);
  EXPECT_NE(json->find("\"worst_window_normal_rate\": "), std::string::npos);
  EXPECT_NE(json->find("\"strategy\": \"active\""), std::string::npos);
  absl::StatusOr<std::string> svg = ReadFile(out + "/learning_curve.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->rfind("<svg", 0), 0u);
  EXPECT_NE(svg->find("<polyline"), std::string::npos);
  EXPECT_NE(svg->find("fewshot, active"), std::string::npos);
}

// --pool-blocks: the pool comes from the even blocks of the whole stream, and the report says so;
// --lower-prior runs (the rows are there, decided by the lowered rule).
TEST(EvalNewsiteTest, PoolFromBlocksOfTheWholeStream) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_blocks";
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/data/loghub-2k/BGL").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/data/loghub-2k/BGL/BGL_2k.log", SmallBgl()).ok());
  const std::string out = root + "/out";
  ASSERT_EQ(RunEvalNewsite({"--out", out, "--data", root + "/data", "--systems", "bgl2k", "--shots", "2",
                            "--seeds", "1", "--pool-blocks", "3", "--lower-prior", "20"}),
            0);
  absl::StatusOr<std::string> md = ReadFile(out + "/results.md");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("--pool-blocks 3: the labelling pool is the units starting in the even ones of 6"),
            std::string::npos) << *md;
  // Half the lines (600 of 1,200) in each part.
  EXPECT_NE(md->find("labels from the pool of 600 lines"), std::string::npos) << *md;
  EXPECT_NE(md->find("measured on 600 other lines"), std::string::npos) << *md;
  EXPECT_NE(md->find("| fewshot | random | 2"), std::string::npos);
}

// --pool-tune without --pool-blocks: tuning inside the first label_part's pool, labels from its
// first half and measured on its second; the test part after it is not read.
TEST(EvalNewsiteTest, PoolTuneInsideTheFirstPart) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_tune";
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/data/loghub-2k/BGL").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/data/loghub-2k/BGL/BGL_2k.log", SmallBgl()).ok());
  const std::string out = root + "/out";
  ASSERT_EQ(RunEvalNewsite({"--out", out, "--data", root + "/data", "--systems", "bgl2k", "--shots", "2",
                            "--seeds", "1", "--pool-tune", "--dump"}),
            0);
  absl::StatusOr<std::string> md = ReadFile(out + "/results.md");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("--pool-tune: tuning inside the label pool (the first 30% of the stream)"), std::string::npos)
      << *md;
  // 360 lines in the first 30%: 180 to label from, 180 measured.
  EXPECT_NE(md->find("labels from the pool of 180 lines"), std::string::npos) << *md;
  EXPECT_NE(md->find("measured on 180 other lines"), std::string::npos) << *md;
  // --dump writes the active picks in order, two per round, with the groups' figures.
  absl::StatusOr<std::string> picks = ReadFile(out + "/bgl2k_active_picks.csv");
  ASSERT_TRUE(picks.ok()) << picks.status();
  EXPECT_NE(picks->find("order,round,unit,label,first_line,group,group_size,margin"), std::string::npos);
  EXPECT_NE(picks->find("\n1,1,"), std::string::npos) << *picks;
  EXPECT_NE(picks->find("\n4,2,"), std::string::npos) << *picks;
}

KShotRow Few(const std::string& strategy, double labels, double f1) {
  KShotRow r;
  r.method = "fewshot";
  r.strategy = strategy;
  r.labels = labels;
  r.f1 = f1;
  return r;
}

// The highest F1 both strategies reach, and the fewest labels each needs for it.
TEST(EvalNewsiteTest, HalfLabelsNoteCountsTheLabelsEachStrategyNeeds) {
  KShotResult r;
  EXPECT_EQ(HalfLabelsNote(r), "");
  r.rows = {Few("random", 2, 0.3), Few("random", 10, 0.5), Few("random", 30, 0.6),
            Few("active", 2, 0.3), Few("active", 10, 0.7), Few("active", 30, 0.8)};
  std::string note = HalfLabelsNote(r);
  EXPECT_NE(note.find("highest F1 both strategies reach is 0.600"), std::string::npos) << note;
  EXPECT_NE(note.find("random needs 30 labels, active 10 (at most half: met"), std::string::npos) << note;
  r.rows[4].f1 = 0.55;  // active now needs 30 as well
  note = HalfLabelsNote(r);
  EXPECT_NE(note.find("random needs 30 labels, active 30 (more than half: not met"), std::string::npos) << note;
}

// --fed-sibling's HDFS split: the new site's half and the sibling's half of the labelled blocks are
// disjoint and cover every block; each line goes whole to the half of the first labelled block it
// mentions, lines of no labelled block stay with the new site; only hdfs has halves, and only a run
// whose federated arm has a sibling loads one.
TEST(EvalNewsiteTest, SiblingHalvesSplitHdfsBlocksDisjointly) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_halves";
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/hdfs-v1-2pct").ok());
  std::string csv = "BlockId,Label\n", log;
  std::vector<std::string> ids;
  for (int b = 0; b < 60; ++b) {
    ids.push_back(absl::StrCat("blk_", b % 2 ? "-" : "", 1000003 * (b + 1)));
    absl::StrAppend(&csv, ids.back(), b % 7 == 3 ? ",Anomaly\n" : ",Normal\n");
  }
  for (int i = 0; i < 400; ++i) {
    const std::string& id = ids[static_cast<size_t>(i * 7 % 60)];
    absl::StrAppend(&log, "081109 2036", 10 + i % 40, " 148 INFO dfs.DataNode$PacketResponder: ",
                    i % 50 == 9 ? std::string("Receiving block blk_999 src: /10.0.0.1") : "PacketResponder 1 for block " + id,
                    " terminating\n");
  }
  ASSERT_TRUE(WriteFileAtomic(root + "/hdfs-v1-2pct/HDFS_2pct_block_labels.csv", csv).ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/hdfs-v1-2pct/HDFS_2pct.log.gz", log).ok());  // plain text reads too
  auto all = LoadNewsiteStream("hdfs", root);
  auto mine = LoadNewsiteStream("hdfs", root, NewsitePart::kNewSiteHalf);
  auto sibling = LoadNewsiteStream("hdfs", root, NewsitePart::kSiblingHalf);
  ASSERT_TRUE(all.ok() && mine.ok() && sibling.ok()) << all.status() << mine.status() << sibling.status();
  size_t sibling_blocks = 0;
  for (const std::string& id : ids) sibling_blocks += HdfsSiblingBlock(id) ? 1 : 0;
  ASSERT_GT(sibling_blocks, 10u);  // both halves are sizeable
  ASSERT_LT(sibling_blocks, 50u);
  EXPECT_EQ(all->y.size(), 60u);
  EXPECT_EQ(sibling->y.size(), sibling_blocks);
  EXPECT_EQ(mine->y.size(), 60u - sibling_blocks);
  EXPECT_EQ(mine->lines.size() + sibling->lines.size(), all->lines.size());
  const auto check = [&](const NewsiteStream& s, bool sibling_half) {
    for (size_t i = 0; i < s.lines.size(); ++i) {
      const bool unlabelled = s.lines[i].find("blk_999") != std::string::npos;
      EXPECT_EQ(s.units[i].empty(), unlabelled) << s.lines[i];
      EXPECT_FALSE(sibling_half && unlabelled) << "the sibling keeps only its blocks' lines";
      if (unlabelled) continue;
      const size_t at = s.lines[i].find("blk_");
      const std::string id = s.lines[i].substr(at, s.lines[i].find(' ', at) - at);
      EXPECT_EQ(HdfsSiblingBlock(id), sibling_half) << id;
    }
  };
  check(*mine, false);
  check(*sibling, true);
  EXPECT_FALSE(LoadNewsiteStream("bgl", root, NewsitePart::kNewSiteHalf).ok());
  NewsiteOptions o;
  EXPECT_EQ(NewsiteStreamPart(o, "hdfs"), NewsitePart::kAll);
  o.federated.enabled = true;
  EXPECT_EQ(NewsiteStreamPart(o, "hdfs"), NewsitePart::kAll);  // no sibling
  o.federated.sibling = true;
  EXPECT_EQ(NewsiteStreamPart(o, "hdfs"), NewsitePart::kNewSiteHalf);
  EXPECT_EQ(NewsiteStreamPart(o, "bgl"), NewsitePart::kAll);
  o.federated.systems = {"bgl"};
  EXPECT_EQ(NewsiteStreamPart(o, "hdfs"), NewsitePart::kAll);  // no federated arm for hdfs
}

TEST(EvalNewsiteTest, RejectsBadFlags) {
  const std::string out = ::testing::TempDir() + "/eval_newsite_bad";
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--strategy", "oracle"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--shots", "0"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--max-alert-rate", "0.9"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--both-near-margin", "2"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--session-normal-match", "-1"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--rest-budget", "1.5"}), 2);  // a share of the budget
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--rest-budget", "-0.5"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--lower-prior", "-1"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--pool-blocks", "-1"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--active-coverage", "1.5"}), 2);  // a weight in [0, 1]
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--active-ramp", "-1"}), 2);  // labels in hand, in [0, 1000]
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--active-ramp", "1001"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--active-mean-uncertainty", "1.5"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--active-size-weight", "-0.25"}), 2);  // a weight, in [0, 100]
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--active-margin-share", "-0.1"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--budget-window", "-1"}), 2);  // 0 is off
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--budget-window", "2000000"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--recurrence-age-lines", "-1"}), 2);  // 0 is off
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--recurrence-age-lines", "1000000001"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--fed-sibling"}), 2);  // only with --federated
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--data", out + "/none", "--systems", "bgl2k"}), 1);
}

// A seed-labelled loghub source as a new site ("seed-<Source>"): its raw lines in order, labelled by the
// CSV's AnomalyLabel; a source name loghub lacks is an error.
TEST(EvalNewsiteTest, SeedLabelledSourceIsASystem) {
  const std::string root = ::testing::TempDir() + "/eval_newsite_seed";
  std::filesystem::remove_all(root);
  ASSERT_TRUE(MakeDirs(root + "/data/loghub-2k/Apache").ok());
  ASSERT_TRUE(MakeDirs(root + "/data/seed-labeled-2k").ok());
  std::string log, csv = "LineId,Time,Level,Content,EventId,EventTemplate,AnomalyLabel,AnomalyLabelName\n";
  for (int i = 0; i < 400; ++i) {
    const bool bad = i % 20 == 7;
    const std::string content = bad ? absl::StrFormat("mod_jk child workerEnv in error state %d", i % 9)
                                     : absl::StrFormat("jk2_init() Found child %d in scoreboard slot %d", i, i % 10);
    absl::StrAppend(&log, "[Sun Dec 04 04:", absl::StrFormat("%02d:%02d", i / 60, i % 60), " 2005] [",
                    bad ? "error" : "notice", "] ", content, "\n");
    absl::StrAppend(&csv, i + 1, ",x,", bad ? "error" : "notice", ",", content, ",E1,x,", bad ? 1 : 0, ",",
                    bad ? "security_anomaly" : "normal", "\n");
  }
  ASSERT_TRUE(WriteFileAtomic(root + "/data/loghub-2k/Apache/Apache_2k.log", log).ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/data/seed-labeled-2k/Apache_2k_labeled.csv", csv).ok());
  const std::string out = root + "/out";
  ASSERT_EQ(RunEvalNewsite({"--out", out, "--data", root + "/data", "--systems", "seed-Apache", "--shots", ""}), 0);
  absl::StatusOr<std::string> md = ReadFile(out + "/results.md");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("## seed-Apache (400 lines, 20 anomalous"), std::string::npos) << *md;
  EXPECT_NE(md->find("| novelty (k=0, site threshold) |"), std::string::npos);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--data", root + "/data", "--systems", "seed-Nowhere", "--shots", ""}), 1);
}

}  // namespace
}  // namespace fedlog::offline
