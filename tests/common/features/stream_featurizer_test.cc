#include "common/features/stream_featurizer.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/features/batch_featurizer.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "gtest/gtest.h"
#include "tests/common/labels/test_data.h"

namespace fedlog::features {
namespace {

int Col(const StreamFeaturizer& f, const std::string& name) {
  const auto& names = f.feature_names();
  auto it = std::find(names.begin(), names.end(), name);
  EXPECT_NE(it, names.end()) << name;
  return static_cast<int>(it - names.begin());
}

StreamFeaturizer Make(StreamFeaturizerOptions o = {}) {
  return *StreamFeaturizer::Create(std::move(o));
}

TEST(StreamFeaturizerTest, RejectsBadOptions) {
  EXPECT_FALSE(StreamFeaturizer::Create({.windows = {}}).ok());
  EXPECT_FALSE(StreamFeaturizer::Create({.windows = {5, 0}}).ok());
  EXPECT_FALSE(StreamFeaturizer::Create({.token_buckets = 1}).ok());
}

TEST(StreamFeaturizerTest, NamesCoverEveryDimension) {
  StreamFeaturizer f = Make();
  EXPECT_EQ(f.dim(), 8 + TextFeaturizer::kDim + 4 * 8 + 6);
  std::vector<std::string> names = f.feature_names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end()) << "duplicate feature name";
}

// A hand-made sequence of one source: templates A A B A C, levels INFO INFO ERROR INFO ERROR, one
// line per second except a 9 s gap before the fourth line.
TEST(StreamFeaturizerTest, WindowStatisticsOnHandMadeSequence) {
  StreamFeaturizer f = Make({.windows = {3, 5}});
  const int32_t tpl[] = {0, 0, 1, 0, 2};
  const char* level[] = {"INFO", "INFO", "ERROR", "INFO", "ERROR"};
  const int64_t t[] = {0, 1000, 2000, 11000, 12000};
  LineFeatures out;
  for (int i = 0; i < 5; ++i) {
    f.Featurize({"src", "some message", level[i], t[i] + 1'000'000'000'000, tpl[i], "some <*>"},
                &out);
  }
  const float* d = out.dense.data();
  // Window 3 = lines 3..5: templates B A C, errors 2, novel lines B and C.
  EXPECT_FLOAT_EQ(d[Col(f, "win3_unique_ratio")], 1.0f);
  EXPECT_FLOAT_EQ(d[Col(f, "win3_error_rate")], 2.0f / 3);
  EXPECT_FLOAT_EQ(d[Col(f, "win3_novelty_rate")], 2.0f / 3);
  // Gaps in window 3: 9 s and 1 s.
  const double g9 = std::log1p(9.0), g1 = std::log1p(1.0);
  EXPECT_NEAR(d[Col(f, "win3_iat_log1p_mean")], (g9 + g1) / 2, 1e-5);
  EXPECT_NEAR(d[Col(f, "win3_iat_log1p_max")], g9, 1e-5);
  EXPECT_NEAR(d[Col(f, "win3_iat_log1p_std")], (g9 - g1) / 2, 1e-5);
  EXPECT_FLOAT_EQ(d[Col(f, "win3_burst_rate")], 0.5f);
  // Window 5 = all lines: 3 distinct templates, 2 errors, 3 novel (A, B, C).
  EXPECT_FLOAT_EQ(d[Col(f, "win5_unique_ratio")], 3.0f / 5);
  EXPECT_FLOAT_EQ(d[Col(f, "win5_error_rate")], 2.0f / 5);
  EXPECT_FLOAT_EQ(d[Col(f, "win5_novelty_rate")], 3.0f / 5);
  EXPECT_FLOAT_EQ(d[Col(f, "win5_burst_rate")], 3.0f / 4);
  // Template block of line 5: C seen once in 5 lines.
  EXPECT_NEAR(d[Col(f, "tpl_rarity")], -std::log(1.0 / 5), 1e-5);
  EXPECT_FLOAT_EQ(d[Col(f, "tpl_first_seen")], 1.0f);
  EXPECT_FLOAT_EQ(d[Col(f, "tpl_wildcard_count")], 1.0f);
  EXPECT_FLOAT_EQ(d[Col(f, "tpl_wildcard_ratio")], 0.5f);
  EXPECT_NEAR(d[Col(f, "gap_log1p_s")], g1, 1e-5);
  EXPECT_FLOAT_EQ(d[Col(f, "has_time")], 1.0f);
}

TEST(StreamFeaturizerTest, TemporalEncodesHourAndWeekday) {
  StreamFeaturizer f = Make();
  LineFeatures out;
  // 2026-11-23 (a Monday) 06:00 UTC.
  f.Featurize({"s", "x", "", 1'795'413'600'000, 0, "x"}, &out);
  EXPECT_NEAR(out.dense[Col(f, "hour_sin")], 1.0, 1e-5);
  EXPECT_NEAR(out.dense[Col(f, "hour_cos")], 0.0, 1e-5);
  EXPECT_NEAR(out.dense[Col(f, "weekday_sin")], 0.0, 1e-5);
  EXPECT_NEAR(out.dense[Col(f, "weekday_cos")], 1.0, 1e-5);
  f.Featurize({"s", "x", "", logparse::kNoTime, 0, "x"}, &out);
  EXPECT_FLOAT_EQ(out.dense[Col(f, "has_time")], 0.0f);
}

TEST(StreamFeaturizerTest, SourcesKeepSeparateState) {
  StreamFeaturizer f = Make();
  LineFeatures a, b;
  f.Featurize({"a", "x", "", 0, 7, "x"}, &a);
  f.Featurize({"b", "x", "", 0, 7, "x"}, &b);
  EXPECT_EQ(a.dense, b.dense);  // b's first line is new to b although a has seen template 7
  EXPECT_EQ(f.num_sources(), 2);
}

TEST(StreamFeaturizerTest, TokensMaskVariablesAndIncludeBigrams) {
  StreamFeaturizer f = Make({.token_buckets = 1 << 20});
  const std::vector<int32_t> a = f.HashTokens("Connection from 10.0.0.1 closed after 35 ms");
  const std::vector<int32_t> b = f.HashTokens("connection from 192.168.1.7 closed after 2 ms");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 7u + 6u);  // 7 words, 6 bigrams
  for (int32_t id : a) EXPECT_TRUE(id >= 1 && id < (1 << 20));
  EXPECT_NE(f.HashTokens("disk failed"), f.HashTokens("failed disk"));  // bigrams keep order
}

TEST(StreamFeaturizerTest, BatchEqualsStreamingAndInterleavingDoesNotMatter) {
  auto parser = logparse::CreateLineParser("HDFS");
  ASSERT_TRUE(parser.ok());
  const std::vector<std::string_view> lines = {
      "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38 "
      "terminating",
      "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-69 "
      "terminating",
      "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
      "10.251.73.220:50010",
      "081109 204106 329 WARN dfs.DataNode$PacketResponder: PacketResponder 2 for block blk_-63 "
      "Interrupted.",
  };
  auto drain = logparse::Drain::Create({});
  ASSERT_TRUE(drain.ok());
  StreamFeaturizer batch_f = Make();
  FeaturizedBatch batch;
  ASSERT_TRUE(FeaturizeLog(**parser, drain->get(), &batch_f, "hdfs", lines, &batch).ok());
  ASSERT_EQ(batch.dense.rows, 4);

  // Streaming, interleaved with another source's lines, and with events built by hand from the
  // parse.
  auto drain2 = logparse::Drain::Create({});
  StreamFeaturizer live = Make();
  LineFeatures f, noise;
  logparse::ParsedLine p;
  for (size_t i = 0; i < lines.size(); ++i) {
    live.Featurize({"other", "unrelated ERROR line", "", 5, 99, "unrelated <*>"}, &noise);
    (*parser)->Parse(lines[i], &p);
    const logparse::DrainResult r = (*drain2)->Add(p.content);
    const std::string text = (*drain2)->TemplateText(r.template_id);
    live.Featurize({"hdfs", p.content, p.level, p.time_ms, r.template_id, text}, &f);
    EXPECT_EQ(std::vector<float>(batch.dense.Row(i), batch.dense.Row(i) + batch.dense.cols),
              f.dense)
        << i;
    EXPECT_EQ(batch.tokens[i], f.tokens);
  }
}

// On a real log (loghub-2k Linux, whose lines have times and repeated templates): batch rows equal
// a second, line-by-line pass, and every value is finite.
TEST(StreamFeaturizerTest, RealLogBatchEqualsStreaming) {
  FEDLOG_REQUIRE_DATA_FILE(path, "loghub-2k/Linux/Linux_2k.log");
  auto raw = logparse::ReadLogFile(path);
  ASSERT_TRUE(raw.ok());
  const std::vector<std::string_view> lines = logparse::SplitLines(*raw);
  auto parser = logparse::CreateLineParser("Linux");
  auto drain = logparse::Drain::Create({});
  StreamFeaturizer batch_f = Make();
  FeaturizedBatch batch;
  ASSERT_TRUE(FeaturizeLog(**parser, drain->get(), &batch_f, "linux", lines, &batch).ok());
  ASSERT_EQ(batch.dense.rows, static_cast<int64_t>(lines.size()));
  for (float v : batch.dense.data) ASSERT_TRUE(std::isfinite(v));
  auto drain2 = logparse::Drain::Create({});
  StreamFeaturizer live = Make();
  FeaturizedBatch one;
  int with_time = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    one = FeaturizedBatch();
    ASSERT_TRUE(FeaturizeLog(**parser, drain2->get(), &live, "linux", {lines[i]}, &one).ok());
    ASSERT_EQ(std::vector<float>(one.dense.Row(0), one.dense.Row(0) + one.dense.cols),
              std::vector<float>(batch.dense.Row(i), batch.dense.Row(i) + batch.dense.cols))
        << "line " << i;
    with_time += one.dense.data[Col(live, "has_time")] > 0;
  }
  EXPECT_GT(with_time, 1900);
}

}  // namespace
}  // namespace fedlog::features
