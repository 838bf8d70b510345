#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logparse/drain_config.h"
#include "common/logparse/parallel.h"
#include "gtest/gtest.h"

namespace fedlog::logparse {
namespace {

TEST(DrainConfigTest, DefaultThenSourceSectionsOverlay) {
  absl::StatusOr<DrainConfig> c = DrainConfig::Parse(
      "# comment\n[default]\ndepth = 5\nsim_threshold = 0.4   # trailing comment\n"
      "[hdfs]\nsim_threshold = 0.7\nregex = blk_-?\\d+ => <BLK>\nregex = \\(\\d+ KB\\) =>\nmasks = ip,num\n"
      "strict_words = false\n");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<DrainOptions> hdfs = c->ForSource("HDFS");
  ASSERT_TRUE(hdfs.ok());
  EXPECT_EQ(hdfs->depth, 5);
  EXPECT_DOUBLE_EQ(hdfs->sim_threshold, 0.7);
  EXPECT_FALSE(hdfs->strict_words);
  EXPECT_EQ(hdfs->masks, kMaskIp | kMaskNum);
  ASSERT_EQ(hdfs->regex_masks.size(), 2u);
  EXPECT_EQ(hdfs->regex_masks[0].pattern, "blk_-?\\d+");
  EXPECT_EQ(hdfs->regex_masks[0].replacement, "<BLK>");
  EXPECT_EQ(hdfs->regex_masks[1].pattern, "\\(\\d+ KB\\)");
  EXPECT_EQ(hdfs->regex_masks[1].replacement, "");
  absl::StatusOr<DrainOptions> other = c->ForSource("Spark");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->depth, 5);
  EXPECT_DOUBLE_EQ(other->sim_threshold, 0.4);
  EXPECT_TRUE(other->regex_masks.empty());
}

TEST(DrainConfigTest, ErrorsNameTheLine) {
  for (const char* text : {"[a]\nno_such_key = 1\n", "[a]\ndepth = four\n", "depth = 4\n", "[a]\njust words\n",
                           "[a]\nmasks = ip,bogus\n", "[a]\nstrict_words = maybe\n"}) {
    absl::StatusOr<DrainConfig> c = DrainConfig::Parse(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find("line"), std::string::npos) << c.status();
  }
  EXPECT_EQ(DrainConfig::LoadFile("/nonexistent/drain.ini").status().code(), absl::StatusCode::kNotFound);
}

TEST(DrainConfigTest, TheShippedLoghubConfigParses) {
  const char* src = std::getenv("FEDLOG_SOURCE_DIR");
  absl::StatusOr<DrainConfig> c =
      DrainConfig::LoadFile(absl::StrCat(src != nullptr ? src : ".", "/common/logparse/loghub_drain.ini"));
  ASSERT_TRUE(c.ok()) << c.status();
  for (const char* s : {"Android", "Linux", "Mac", "HDFS"}) {
    absl::StatusOr<DrainOptions> o = c->ForSource(s);
    ASSERT_TRUE(o.ok()) << s;
    EXPECT_TRUE(Drain::Create(*o).ok()) << s;  // every regex compiles
  }
}

// The same sources give the same templates whether parsed one after another or on parallel threads.
TEST(ParallelTest, ParallelEqualsSequential) {
  auto hdfs = *CreateLineParser("HDFS");
  auto ssh = *CreateLineParser("OpenSSH");
  std::vector<std::string> data(6);
  for (int s = 0; s < 6; ++s) {
    for (int i = 0; i < 500; ++i) {
      data[s] += s % 2 == 0 ? absl::StrCat("081109 2036", i % 60, " 1", i, " INFO dfs.X: Received block blk_", i,
                                           " of size ", i * 7, " from 10.0.0.", i % 250, "\n")
                            : absl::StrCat("Dec 10 06:55:46 LabSZ sshd[", i, "]: Invalid user u", i % 7,
                                           " from 10.1.", s, ".", i % 200, "\n");
    }
  }
  auto run = [&](int threads) {
    std::vector<std::unique_ptr<Drain>> drains;
    std::vector<std::vector<int32_t>> ids(data.size());
    std::vector<SourceJob> jobs;
    for (size_t s = 0; s < data.size(); ++s) {
      drains.push_back(*Drain::Create(DrainOptions{}));
      SourceJob job;
      job.parser = s % 2 == 0 ? hdfs.get() : ssh.get();
      job.drain = drains.back().get();
      job.data = data[s];
      job.template_ids = &ids[s];
      jobs.push_back(job);
    }
    ParseSourcesInParallel(&jobs, threads);
    for (const SourceJob& j : jobs) {
      EXPECT_EQ(j.stats.lines, 500);
      EXPECT_EQ(j.stats.unmatched, 0);
    }
    return ids;
  };
  EXPECT_EQ(run(1), run(4));
}

}  // namespace
}  // namespace fedlog::logparse
