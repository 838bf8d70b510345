// `fedlog eval newsite` end to end on a small BGL-style stream written at test time: k = 0 and
// k > 0 (random and active labels) run, and the report, JSON and learning-curve SVG are written.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
                            "--seeds", "2"}),
            0);
  absl::StatusOr<std::string> md = ReadFile(out + "/results.md");
  ASSERT_TRUE(md.ok()) << md.status();
  for (const char* want : {"novelty (k=0, site threshold)", "novelty (k=0, budget only)", "k > 0",
                           "| fewshot | random | 5", "| fewshot | active | 5", "jaccard-1nn", "xgboost",
                           "severity-word rule", "online template rarity"}) {
    EXPECT_NE(md->find(want), std::string::npos) << want << "\n" << *md;
  }
  absl::StatusOr<std::string> json = ReadFile(out + "/results.json");
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"kshot\": {"), std::string::npos);
  EXPECT_NE(json->find("\"strategy\": \"active\""), std::string::npos);
  absl::StatusOr<std::string> svg = ReadFile(out + "/learning_curve.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->rfind("<svg", 0), 0u);
  EXPECT_NE(svg->find("<polyline"), std::string::npos);
  EXPECT_NE(svg->find("fewshot, active"), std::string::npos);
}

TEST(EvalNewsiteTest, RejectsBadFlags) {
  const std::string out = ::testing::TempDir() + "/eval_newsite_bad";
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--strategy", "oracle"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--shots", "0"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--max-alert-rate", "0.9"}), 2);
  EXPECT_EQ(RunEvalNewsite({"--out", out, "--data", out + "/none", "--systems", "bgl2k"}), 1);
}

}  // namespace
}  // namespace fedlog::offline
