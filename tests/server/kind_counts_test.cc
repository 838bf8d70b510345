// The aggregator's handling of the federation's message-kind counts (server/coordinator_kinds.h): a header with
// counts it cannot check is refused, counts are refused under secure aggregation, DP or for an undeclared source,
// and the round's sum adds the updates per source and zeroes buckets below the suppression floor.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_sketch.h"
#include "gtest/gtest.h"
#include "server/coordinator_kinds.h"

namespace fedlog::server {
namespace {

v1::KindCounts Counts(const std::string& source, std::vector<uint32_t> buckets, std::vector<double> counts) {
  v1::KindCounts k;
  k.set_source(source);
  for (uint32_t b : buckets) k.add_bucket(b);
  for (double c : counts) k.add_count(c);
  return k;
}

v1::SourceInfo Source(const std::string& name, int64_t lines) {
  v1::SourceInfo s;
  s.set_name(name);
  s.set_lines(lines);
  return s;
}

v1::UpdateHeader Header(std::vector<v1::KindCounts> counts, int64_t samples = 100) {
  v1::UpdateHeader h;
  h.set_num_samples(samples);
  for (auto& k : counts) *h.add_kind_counts() = k;
  return h;
}

TEST(KindCounts, ValidHeaderPasses) {
  EXPECT_TRUE(ValidateKindCounts(Header({})).ok());
  EXPECT_TRUE(ValidateKindCounts(Header({Counts("bgl", {1, 5, 32767}, {1, 2, 4})})).ok());
  // A capped bucket keeps its class proportion: fractions, the pair summing to the cap.
  constexpr uint32_t kNormal = kinds::KindSketch::kRows * kinds::KindSketch::kColumns;
  EXPECT_TRUE(ValidateKindCounts(Header({Counts("bgl", {5, kNormal + 5}, {4 * 10.0 / 11, 4 * 1.0 / 11})})).ok());
}

// The per-site cap: a bucket whose two classes together exceed kSiteBucketCap is refused, whatever the site
// declared; so a lying site's huge count never reaches the sum.
TEST(KindCounts, ABucketAboveTheSiteCapIsRefused) {
  constexpr uint32_t kNormal = kinds::KindSketch::kRows * kinds::KindSketch::kColumns;
  const auto code = [](v1::UpdateHeader h) { return ValidateKindCounts(h).code(); };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code(Header({Counts("bgl", {5}, {100000})})), kInvalid);
  EXPECT_EQ(code(Header({Counts("bgl", {5}, {kinds::kSiteBucketCap + 0.01})})), kInvalid);
  EXPECT_EQ(code(Header({Counts("bgl", {5, kNormal + 5}, {3, 2})})), kInvalid);  // the two classes together
  EXPECT_TRUE(ValidateKindCounts(Header({Counts("bgl", {5, kNormal + 6}, {3, 2})})).ok());  // other buckets
  EXPECT_EQ(code(Header({Counts("bgl", {1}, {1}), Counts("hdfs", {kNormal + 9}, {7})})), kInvalid);
}

TEST(KindCounts, BadNumbersAreRefused) {
  const auto bad = [](v1::UpdateHeader h) { return ValidateKindCounts(h).code(); };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(bad(Header({Counts("bgl", {kinds::KindSketch::kSize}, {1})})), kInvalid);  // bucket out of range
  EXPECT_EQ(bad(Header({Counts("bgl", {5, 5}, {1, 1})})), kInvalid);                     // repeated bucket
  EXPECT_EQ(bad(Header({Counts("bgl", {6, 5}, {1, 1})})), kInvalid);                     // not ascending
  EXPECT_EQ(bad(Header({Counts("bgl", {5}, {1, 1})})), kInvalid);                        // sizes differ
  EXPECT_EQ(bad(Header({Counts("bgl", {5}, {std::nan("")})})), kInvalid);
  EXPECT_EQ(bad(Header({Counts("bgl", {5}, {-1})})), kInvalid);
  EXPECT_EQ(bad(Header({Counts("bgl", {5}, {0})})), kInvalid);    // zero buckets are left out
  EXPECT_EQ(bad(Header({Counts("bgl", {5}, {1}), Counts("bgl", {6}, {1})})), kInvalid);  // source twice
  EXPECT_EQ(bad(Header({Counts("", {5}, {1})})), kInvalid);
  EXPECT_EQ(bad(Header({Counts("bad name\n", {5}, {1})})), kInvalid);
}

TEST(KindCounts, OnlyPlainRoundsWithoutDpForDeclaredSources) {
  v1::RunPlan plain;
  const v1::UpdateHeader h = Header({Counts("bgl", {5}, {3})});
  const std::vector<v1::SourceInfo> bgl = {Source("bgl", 10)}, hdfs = {Source("hdfs", 10)};
  EXPECT_TRUE(CheckKindCountsAllowed(plain, h, false, bgl).ok());
  EXPECT_TRUE(CheckKindCountsAllowed(plain, h, false, {Source("bgl", 0)}).ok());  // withheld lines bound nothing
  EXPECT_EQ(CheckKindCountsAllowed(plain, h, false, {Source("bgl", 2)}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckKindCountsAllowed(plain, h, false, hdfs).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckKindCountsAllowed(plain, h, true, bgl).code(), absl::StatusCode::kFailedPrecondition);
  v1::UpdateHeader masked = h;
  masked.set_secagg_masked(true);
  EXPECT_EQ(CheckKindCountsAllowed(plain, masked, false, bgl).code(), absl::StatusCode::kFailedPrecondition);
  for (const char* mode : {"site", "line"}) {
    v1::RunPlan dp;
    dp.set_dp_mode(mode);
    EXPECT_EQ(CheckKindCountsAllowed(dp, h, false, bgl).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(CheckKindCountsAllowed(dp, Header({}), false, bgl).ok());  // no counts: nothing to refuse
  }
}

TEST(KindCounts, SumAddsPerSourceAndSuppressesSmallBuckets) {
  using kinds::KindSketch;
  constexpr uint32_t kNormal = KindSketch::kRows * KindSketch::kColumns;  // the normal class's first bucket
  const std::vector<std::vector<v1::KindCounts>> updates = {
      {Counts("bgl", {1, 2, kNormal + 1}, {2, 1, 1}), Counts("hdfs", {7}, {1})},
      {Counts("bgl", {1, 3}, {1, 1})},
      {}};
  const std::vector<v1::KindCounts> sum = SumKindCounts(updates, 3);
  // bgl: bucket 1 holds 3 anomalous + 1 normal (kept, both classes); 2 and 3 hold 1 each (zeroed); hdfs has
  // nothing left and is dropped.
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_EQ(sum[0].source(), "bgl");
  ASSERT_EQ(sum[0].bucket_size(), 2);
  EXPECT_EQ(sum[0].bucket(0), 1u);
  EXPECT_EQ(sum[0].count(0), 3);
  EXPECT_EQ(sum[0].bucket(1), kNormal + 1);
  EXPECT_EQ(sum[0].count(1), 1);
  EXPECT_TRUE(SumKindCounts(updates, 5).empty());
}

TEST(KindCounts, SidecarRoundTripsAndGoesWithTheUpdate) {
  const std::string path = (std::filesystem::temp_directory_path() / "kind_counts_test_update.bundle").string();
  std::remove(KindCountsPath(path).c_str());
  auto none = ReadKindCounts(path);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(WriteKindCounts(path, Header({Counts("bgl", {4, 9}, {2, 3.5})})).ok());
  auto back = ReadKindCounts(path);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].count(1), 3.5);
  std::remove(KindCountsPath(path).c_str());
}

}  // namespace
}  // namespace fedlog::server
