// The aggregator's side of the message-kind counts under secure aggregation and across rounds that bring none
// (server/coordinator_kinds_secagg.h): which sources get a kind section, how checked sections become the
// manifest's counts (suppressed below 3, a failed section dropped), and the parent's counts carried forward.
#include <string>
#include <vector>

#include "common/kinds/kind_sketch.h"
#include "gtest/gtest.h"
#include "server/coordinator_kinds.h"
#include "server/coordinator_kinds_secagg.h"

namespace fedlog::server {
namespace {

v1::KindCounts Sparse(const std::string& source, std::vector<uint32_t> buckets, std::vector<double> counts) {
  v1::KindCounts k;
  k.set_source(source);
  for (uint32_t b : buckets) k.add_bucket(b);
  for (double c : counts) k.add_count(c);
  return k;
}

TEST(KindSecAggTest, OnlyRoundsWithoutDpTakeCounts) {
  v1::RunPlan plan;
  EXPECT_TRUE(TakesKindCounts(plan));
  plan.set_dp_mode("none");
  EXPECT_TRUE(TakesKindCounts(plan));
  for (const char* mode : {"site", "line"}) {
    plan.set_dp_mode(mode);
    EXPECT_FALSE(TakesKindCounts(plan)) << mode;
  }
}

TEST(KindSecAggTest, KindGroupsKeepSourcesDeclaredByAtLeastTheThreshold) {
  auto groups = KindGroups({{"site-a", {"HDFS", "BGL"}}, {"site-b", {"HDFS"}}, {"site-c", {"HDFS", "Spark", "HDFS"}}},
                           2);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups.at("HDFS"), (std::vector<std::string>{"site-a", "site-b", "site-c"}));
  EXPECT_EQ(KindGroups({{"site-a", {"HDFS"}}, {"site-b", {"BGL"}}}, 2).size(), 0u);
  // At most max_sections, the largest groups first, then by name.
  auto capped = KindGroups({{"a", {"A", "B", "C"}}, {"b", {"A", "B", "C"}}, {"c", {"C"}}}, 2, 2);
  ASSERT_EQ(capped.size(), 2u);
  EXPECT_TRUE(capped.count("A") && capped.count("C"));
}

TEST(KindSecAggTest, CheckedSectionsBecomeSuppressedCountsAndFailedOnesAreDropped) {
  std::vector<secagg::KindSectionSum> sums(3);
  sums[0].source = "Spark";
  sums[0].counts.assign(kinds::KindSketch::kSize, 0.0);
  sums[0].counts[10] = 2.5;  // below 3 together: suppressed
  sums[0].counts[11] = 2.0;
  sums[0].counts[11 + kinds::KindSketch::kSize / 2] = 1.5;  // 3.5 together: kept
  sums[1].source = "BGL";
  sums[1].status = absl::DataLossError("out of range");
  sums[2].source = "HDFS";
  sums[2].counts.assign(kinds::KindSketch::kSize, 0.0);  // nothing left: dropped
  std::vector<v1::KindCounts> out = KindCountsFromSecAgg(sums, kKindSuppressBelow);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].source(), "Spark");
  EXPECT_EQ(std::vector<uint32_t>(out[0].bucket().begin(), out[0].bucket().end()),
            (std::vector<uint32_t>{11, 11 + kinds::KindSketch::kSize / 2}));
  EXPECT_EQ(std::vector<double>(out[0].count().begin(), out[0].count().end()), (std::vector<double>{2.0, 1.5}));
}

TEST(KindSecAggTest, SourcesWithoutNewCountsKeepTheParents) {
  v1::ModelManifest parent;
  *parent.add_kind_counts() = Sparse("BGL", {1}, {5});
  *parent.add_kind_counts() = Sparse("HDFS", {2}, {4});
  // A round that brought new HDFS counts only (say, its BGL sites had no section): BGL is carried.
  v1::ModelManifest next;
  *next.add_kind_counts() = Sparse("HDFS", {3}, {7});
  CarryForwardKindCounts(parent, &next);
  ASSERT_EQ(next.kind_counts_size(), 2);
  EXPECT_EQ(next.kind_counts(0).source(), "BGL");
  EXPECT_EQ(next.kind_counts(0).count(0), 5);
  EXPECT_EQ(next.kind_counts(1).source(), "HDFS");
  EXPECT_EQ(next.kind_counts(1).count(0), 7);  // the round's own counts win
  EXPECT_EQ(std::vector<std::string>(next.kind_counts_carried().begin(), next.kind_counts_carried().end()),
            (std::vector<std::string>{"BGL"}));
  // A DP round brings none: everything is carried, so a run keeps its verdicts.
  v1::ModelManifest dp;
  CarryForwardKindCounts(next, &dp);
  ASSERT_EQ(dp.kind_counts_size(), 2);
  EXPECT_EQ(dp.kind_counts_carried_size(), 2);
  // Nothing to carry from a parent without counts.
  v1::ModelManifest empty, after;
  CarryForwardKindCounts(empty, &after);
  EXPECT_EQ(after.kind_counts_size(), 0);
  EXPECT_EQ(after.kind_counts_carried_size(), 0);
}

}  // namespace
}  // namespace fedlog::server
