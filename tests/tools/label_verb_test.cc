// `fedlog label`'s data: a site's lines scored label-free, one candidate per template, verdicts in the
// labels store (and read back by the next run), "whole template is normal" ending the template's alerts,
// clear errors on bad configs; and the batch answers.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/detect/detect_store.h"
#include "client/detect/detector.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tools/site/label_verb_data.h"
#include "tools/site/label_verb_ui.h"

namespace fedlog::cli {
namespace {

std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/label_verb_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A HDFS-format site: a few usual templates and rare error lines.
std::string WriteSite(const std::string& dir, const std::string& detect_extra = "") {
  std::ofstream log(dir + "/app.log");
  for (int i = 0; i < 600; ++i) {
    log << "081109 2035" << (10 + i % 50) << " " << (100 + i % 7) << " INFO dfs.DataNode$PacketResponder: "
        << (i % 3 == 0 ? "PacketResponder 1 for block blk_" : "Received block blk_") << (1000 + i)
        << (i % 3 == 0 ? " terminating" : " of size 67108864 from /10.250.19.102") << "\n";
    if (i % 150 == 149)
      log << "081109 203615 148 ERROR dfs.DataNode: Exception in receiveBlock for block blk_" << i
          << " java.io.IOException: Connection reset by peer\n";
  }
  log.close();
  const std::string config = dir + "/site.yaml";
  std::ofstream(config) << "data_dir: " << dir << "/data\n"
                        << "sources: [{name: HDFS, path: " << dir << "/app.log}]\n"
                        << "detect:\n  sources: [{name: HDFS, paths: [" << dir << "/app.log]}]\n"
                        << "  expected_alert_rate: 0.02\n"
                        << detect_extra;
  return config;
}

TEST(LabelVerbTest, OneCandidatePerTemplateAndVerdictsReachTheStore) {
  const std::string dir = FreshDir("store");
  auto site = LabelSite::Load({WriteSite(dir), "", 20000, 0});
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_GT((*site)->lines().size(), 600u);
  auto picks = (*site)->Candidates(0);
  ASSERT_TRUE(picks.ok()) << picks.status();
  ASSERT_GE(picks->size(), 2u);
  std::set<int> groups;
  for (const active::Pick& p : *picks) EXPECT_TRUE(groups.insert(p.template_id).second);
  EXPECT_EQ(groups.size(), (*site)->groups().size());

  // The error template alerts; declaring it normal ends that (as live detection does).
  size_t error_line = 0;
  for (size_t i = 0; i < (*site)->lines().size(); ++i) {
    if (absl::StrContains((*site)->lines()[i].text, "Connection reset") &&
        (*site)->WouldAlert((*site)->lines()[i]))
      error_line = i;
  }
  ASSERT_GT(error_line, 0u) << "the error lines should alert label-free";
  size_t normal_line = 0;
  while ((*site)->lines()[normal_line].group == (*site)->lines()[error_line].group) ++normal_line;
  ASSERT_TRUE((*site)->Record(error_line, Verdict::kTemplateNormal).ok());
  ASSERT_TRUE((*site)->Record(normal_line, Verdict::kAnomaly).ok());
  EXPECT_FALSE((*site)->WouldAlert((*site)->lines()[error_line]));
  auto after = (*site)->Candidates(0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), picks->size() - 2);  // both groups are covered now

  auto store = client::detect::DetectStore::Open(client::detect::DetectStorePath(dir + "/data"));
  ASSERT_TRUE(store.ok());
  auto labels = (*store)->LoadLabels("HDFS");
  ASSERT_TRUE(labels.ok());
  ASSERT_EQ(labels->size(), 2u);
  EXPECT_TRUE(absl::StartsWith((*labels)[0].origin, "feedback:template:HDFS:"));
  EXPECT_EQ((*labels)[0].label, 0);
  EXPECT_FALSE((*labels)[0].tokens.empty());  // encoder input, for the model and training
  EXPECT_TRUE(absl::StartsWith((*labels)[1].origin, "feedback:label:HDFS:"));
  EXPECT_EQ((*labels)[1].label, 1);

  // A second run reads the verdicts back: the same groups stay covered.
  store->reset();
  auto again = LabelSite::Load({dir + "/site.yaml", "", 20000, 0});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->labels_given(), 2);
  EXPECT_EQ((*again)->Candidates(0)->size(), after->size());
}

TEST(LabelVerbTest, SameSeedSameQuestionsAndPatternSuggestions) {
  const std::string dir = FreshDir("seed");
  std::ofstream(dir + "/patterns.yaml")
      << "patterns:\n  - {name: conn_reset, anomaly_type: network, keywords: [\"connection reset\"]}\n";
  const std::string config = WriteSite(dir, "  label_patterns: patterns.yaml\n");
  auto a = LabelSite::Load({config, "", 20000, 3});
  auto b = LabelSite::Load({config, "", 20000, 3});
  ASSERT_TRUE(a.ok() && b.ok());
  auto pa = (*a)->Candidates(5), pb = (*b)->Candidates(5);
  ASSERT_TRUE(pa.ok() && pb.ok());
  ASSERT_EQ(pa->size(), pb->size());
  for (size_t i = 0; i < pa->size(); ++i) EXPECT_EQ((*pa)[i].line, (*pb)[i].line);
  ASSERT_TRUE((*a)->has_patterns());
  EXPECT_EQ((*a)->Suggestions("java.io.IOException: Connection reset by peer"),
            std::vector<std::string>{"conn_reset (network)"});
  EXPECT_TRUE((*a)->Suggestions("Received block blk_1").empty());
}

TEST(LabelVerbTest, ClearErrorsOnBadConfigs) {
  const std::string dir = FreshDir("errors");
  auto missing = LabelSite::Load({dir + "/nope.yaml", "", 20000, 0});
  EXPECT_FALSE(missing.ok());
  std::ofstream(dir + "/no-dir.yaml") << "sources: [{name: HDFS, path: x.log}]\n";
  auto no_dir = LabelSite::Load({dir + "/no-dir.yaml", "", 20000, 0});
  ASSERT_FALSE(no_dir.ok());
  EXPECT_TRUE(absl::StrContains(no_dir.status().message(), "no data_dir")) << no_dir.status();
  std::ofstream(dir + "/no-lines.yaml") << "data_dir: d\nsources: [{name: HDFS, path: empty*.log}]\n";
  auto no_lines = LabelSite::Load({dir + "/no-lines.yaml", "", 20000, 0});
  ASSERT_FALSE(no_lines.ok());
  EXPECT_TRUE(absl::StrContains(no_lines.status().message(), "no log lines")) << no_lines.status();
  auto bad_patterns = LabelSite::Load({WriteSite(dir), dir + "/none.yaml", 20000, 0});
  EXPECT_FALSE(bad_patterns.ok());
}

// A site whose lines form HDFS block sessions: 300 blocks (three receives, three acknowledgements),
// three of them also replicated (a rare, normal kind of block the session detector reports).
std::string WriteSessionSite(const std::string& dir) {
  std::ofstream log(dir + "/hdfs.log");
  for (int b = 0; b < 300; ++b) {
    char t[32];
    std::snprintf(t, sizeof(t), "081109 %02d%02d%02d", 20 + (2 * b) / 3600, (2 * b / 60) % 60, (2 * b) % 60);
    for (int k = 0; k < 3; ++k)
      log << t << " 143 INFO dfs.DataNode$PacketResponder: Receiving block blk_" << 9000 + b << "\n";
    for (int k = 0; k < 3; ++k)
      log << t << " 143 INFO dfs.DataNode$PacketResponder: PacketResponder terminating for blk_" << 9000 + b << "\n";
    if (b == 150 || b == 220 || b == 280)
      log << t << " 143 INFO dfs.DataNode: Starting thread to transfer block blk_" << 9000 + b << " to 10.251.39.160:50010\n";
  }
  log.close();
  const std::string config = dir + "/site.yaml";
  std::ofstream(config) << "data_dir: " << dir << "/data\n"
                        << "detect:\n  sources: [{name: HDFS, paths: [" << dir << "/hdfs.log]}]\n"
                        << "  expected_alert_rate: 0.02\n"
                        << "  session_pattern: \"(blk_-?[0-9]+)\"\n"
                        << "  session_quiet_ms: 1000\n";
  return config;
}

TEST(LabelVerbTest, SessionCandidatesAndAVerdictOnTheirShape) {
  const std::string dir = FreshDir("sessions");
  const std::string config = WriteSessionSite(dir);
  auto site = LabelSite::Load({config, "", 20000, 0});
  ASSERT_TRUE(site.ok()) << site.status();
  ASSERT_GE((*site)->sessions().size(), 300u);
  auto picks = (*site)->SessionCandidates(0);
  ASSERT_TRUE(picks.ok()) << picks.status();
  std::set<uint64_t> groups;
  for (const active::SessionPick& p : *picks) EXPECT_TRUE(groups.insert(p.group).second);
  // The replicated blocks form one group, and the detector reports them.
  auto replicated = [&](const SiteSession& s) {
    return absl::StrContains((*site)->SessionShape(s), "transfer");
  };
  const active::SessionPick* rep = nullptr;
  for (const active::SessionPick& p : *picks) {
    if (replicated((*site)->sessions()[p.session])) rep = &p;
  }
  ASSERT_NE(rep, nullptr);
  EXPECT_EQ(rep->group_size, 3);
  ASSERT_GE(rep->group_alerts, 1) << "the replications should alert label-free";
  // The screen shows the session's shape, its group and its lines.
  LabelProgress progress;
  RenderOptions ro;
  ro.ansi = false;
  ro.width = 200;
  const std::string screen = RenderSession(**site, *rep, progress, ro);
  EXPECT_TRUE(absl::StrContains(screen, "session of 7 line(s)")) << screen;
  EXPECT_TRUE(absl::StrContains(screen, "3 session(s) of this shape here")) << screen;
  EXPECT_TRUE(absl::StrContains(screen, "transfer")) << screen;
  EXPECT_TRUE(absl::StrContains(screen, "[n] normal (this kind of session)")) << screen;
  const size_t rep_session = rep->session;
  ASSERT_TRUE((*site)->RecordSession(rep_session, Verdict::kNormal).ok());
  for (const SiteSession& s : (*site)->sessions()) {
    if (replicated(s)) {
      EXPECT_FALSE((*site)->SessionWouldAlert(s));
    }
  }
  auto after = (*site)->SessionCandidates(0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), picks->size() - 1);

  auto store = client::detect::DetectStore::Open(client::detect::DetectStorePath(dir + "/data"));
  ASSERT_TRUE(store.ok());
  auto labels = (*store)->LoadLabels("HDFS");
  ASSERT_TRUE(labels.ok());
  ASSERT_EQ(labels->size(), 1u);
  EXPECT_TRUE(absl::StartsWith((*labels)[0].origin, "session:HDFS:"));
  EXPECT_EQ((*labels)[0].label, 0);
  EXPECT_TRUE(absl::StrContains((*labels)[0].line, "blk_"));
  store->reset();
  // A second run reads the verdict back: the group stays covered and quiet.
  auto again = LabelSite::Load({config, "", 20000, 0});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->SessionCandidates(0)->size(), after->size());
  for (const SiteSession& s : (*again)->sessions()) {
    if (absl::StrContains((*again)->SessionShape(s), "transfer")) {
      EXPECT_FALSE((*again)->SessionWouldAlert(s));
    }
  }
  // --lines still asks about lines: the line candidates are there as before.
  EXPECT_FALSE((*again)->Candidates(0)->empty());
}

TEST(LabelVerbTest, AnswersByKeyOrWord) {
  EXPECT_EQ(AnswerOf("a"), 'a');
  EXPECT_EQ(AnswerOf(" Normal \n"), 'n');
  EXPECT_EQ(AnswerOf("template"), 't');
  EXPECT_EQ(AnswerOf("s"), 's');
  EXPECT_EQ(AnswerOf("quit"), 'q');
  EXPECT_EQ(AnswerOf("yes"), 0);
  EXPECT_EQ(AnswerOf(""), 0);
}

}  // namespace
}  // namespace fedlog::cli
