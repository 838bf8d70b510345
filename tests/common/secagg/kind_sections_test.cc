// The message-kind sections of the secure-aggregation vector (common/secagg/kind_sections.h, update_vector.h
// part 5): the layout a site derives from a round's config, the per-site bucket cap, and, through the real
// state machines in one process, that the unmasked sum of the sections equals the plain sum of the sites'
// capped sketches within the quantisation bound whatever the sites' sample weights, that one site cannot add
// more than kSiteBucketCap to a bucket however large a weight or value it states, and the aggregator's range
// check on an unmasked section.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kinds/kind_sketch.h"
#include "common/secagg/aggregator_session.h"
#include "common/secagg/kind_sections.h"
#include "common/secagg/quantize.h"
#include "common/secagg/site_session.h"
#include "common/secagg/update_vector.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

using kinds::KindSketch;
using kinds::kSiteBucketCap;

constexpr size_t kHalf = KindSketch::kSize / 2;
constexpr double kClip = 4.0;

v1::ModelSpec Spec() {
  v1::ModelSpec spec;
  spec.set_arch("classic");
  return spec;
}

v1::SecAggConfig KindConfig(const std::vector<std::string>& sources, const std::vector<int>& sizes) {
  v1::SecAggConfig c;
  c.set_threshold(2);
  c.set_max_sites(5);
  for (const std::string& s : sources) c.add_kind_sources(s);
  for (int n : sizes) c.add_kind_group_sizes(n);
  c.set_vector_length(3 + kKindSectionLength * sources.size());
  return c;
}

// A source's counts as a site uploads them: `units` labelled lines of kind `kind` (anomalous or not).
v1::KindCounts Counts(const std::string& source, const std::vector<std::pair<uint64_t, int>>& anomalous,
                      const std::vector<std::pair<uint64_t, int>>& normal) {
  KindSketch sketch;
  for (const auto& [kind, units] : anomalous) for (int u = 0; u < units; ++u) sketch.AddUnit({kind}, true);
  for (const auto& [kind, units] : normal) for (int u = 0; u < units; ++u) sketch.AddUnit({kind}, false);
  v1::KindCounts k;
  k.set_source(source);
  for (size_t i = 0; i < sketch.counts().size(); ++i) {
    if (sketch.counts()[i] > 0) {
      k.add_bucket(static_cast<uint32_t>(i));
      k.add_count(sketch.counts()[i]);
    }
  }
  return k;
}

TEST(KindSectionsTest, LayoutForRoundPutsOneSectionPerKindSourceLast) {
  const fl::BundleLayout model = {{"a", {3}}};
  absl::StatusOr<UpdateVectorLayout> layout = LayoutForRound(model, Spec(), KindConfig({"BGL", "HDFS"}, {2, 3}));
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->kind_sources, (std::vector<std::string>{"BGL", "HDFS"}));
  EXPECT_EQ(layout->KindLanes(), 2 * (static_cast<uint64_t>(KindSketch::kSize) + 1));
  EXPECT_EQ(layout->length(), 3 + layout->KindLanes());
  // What a site refuses: sizes not parallel or below the threshold, sources out of order, a DP release round.
  EXPECT_EQ(LayoutForRound(model, Spec(), KindConfig({"BGL", "HDFS"}, {2})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LayoutForRound(model, Spec(), KindConfig({"BGL", "HDFS"}, {2, 1})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LayoutForRound(model, Spec(), KindConfig({"HDFS", "BGL"}, {2, 2})).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::SecAggConfig release = KindConfig({"BGL"}, {2});
  release.set_class_sum_release(true);
  EXPECT_EQ(LayoutForRound(model, Spec(), release).status().code(), absl::StatusCode::kInvalidArgument);
  // A length that ignores the sections is the aggregator's mismatch.
  v1::SecAggConfig short_length = KindConfig({"BGL"}, {2});
  short_length.set_vector_length(3);
  EXPECT_EQ(LayoutForRound(model, Spec(), short_length).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KindSectionsTest, CapScalesABucketDownKeepingItsClassShare) {
  v1::KindCounts k;
  k.set_source("HDFS");
  k.add_bucket(5);                 // anomalous class, bucket 5
  k.add_count(30);
  k.add_bucket(kHalf + 5);         // normal class, same bucket
  k.add_count(10);
  k.add_bucket(7);                 // within the cap: unchanged
  k.add_count(3);
  absl::StatusOr<std::vector<double>> dense = CapKindBuckets(k);
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_DOUBLE_EQ((*dense)[5], 3.0);
  EXPECT_DOUBLE_EQ((*dense)[kHalf + 5], 1.0);
  EXPECT_DOUBLE_EQ((*dense)[7], 3.0);
  k.set_count(2, -1);
  EXPECT_EQ(CapKindBuckets(k).status().code(), absl::StatusCode::kInvalidArgument);
}

// Runs one round of the real protocol over `x` (one vector per site) at `weights`; the last `unit_lanes`
// values are masked with weight 1.
absl::StatusOr<AggregateResult> RunRound(const RoundConfig& config, const std::vector<std::vector<float>>& x,
                                         const std::vector<double>& weights, uint64_t unit_lanes) {
  auto agg = AggregatorSession::Create(config);
  if (!agg.ok()) return agg.status();
  std::vector<std::unique_ptr<SiteSession>> sites;
  for (size_t i = 0; i < x.size(); ++i) {
    SiteOptions o;
    o.site_id = absl::StrCat("site-", i);
    auto site = SiteSession::Create(o, config);
    if (!site.ok()) return site.status();
    sites.push_back(std::move(*site));
    auto adv = sites.back()->Advertise();
    if (!adv.ok()) return adv.status();
    if (absl::Status st = (*agg)->AddAdvertisement(*adv); !st.ok()) return st;
  }
  auto roster = (*agg)->CloseAdvertising();
  if (!roster.ok()) return roster.status();
  for (auto& site : sites) {
    auto shares = site->ShareSecrets(*roster);
    if (!shares.ok()) return shares.status();
    if (absl::Status st = (*agg)->AddShares(*shares); !st.ok()) return st;
  }
  auto deliveries = (*agg)->CloseSharing();
  if (!deliveries.ok()) return deliveries.status();
  for (size_t i = 0; i < x.size(); ++i) {
    auto m = sites[i]->MaskInput(deliveries->at(sites[i]->index()), x[i], weights[i], unit_lanes);
    if (!m.ok()) return m.status();
    if (absl::Status st = (*agg)->AddMaskedInput(*m); !st.ok()) return st;
  }
  auto request = (*agg)->CloseMasking();
  if (!request.ok()) return request.status();
  for (auto& site : sites) {
    auto r = site->Unmask(*request);
    if (!r.ok()) return r.status();
    if (absl::Status st = (*agg)->AddUnmaskResponse(*r); !st.ok()) return st;
  }
  return (*agg)->Finish();
}

RoundConfig Config(uint64_t length, int lane_bits, double max_weight) {
  RoundConfig c;
  c.session_id = "kind-sections-test";
  c.threshold = 2;
  c.vector_length = length;
  c.quantization.clip_range = kClip;
  c.quantization.max_weight = max_weight;
  c.quantization.max_sites = 3;
  c.quantization = ChooseLanes(c.quantization, 1);
  c.quantization.lane_bits = lane_bits;
  c.quantization.fractional_bits = MaxFractionalBits(c.quantization, lane_bits);
  return c;
}

TEST(KindSectionsTest, UnmaskedSumEqualsThePlainSumOfCappedSketches) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {3}}}, 0);
  ASSERT_TRUE(AddKindSections({"HDFS"}, &layout).ok());
  // Three sites of very different sample weights; kind 11 crosses the cap at two of them.
  const std::vector<double> weights = {16, 37, 5000};  // 16: a step within 2^-16 in 32-bit lanes
  const std::vector<v1::KindCounts> site_counts = {
      Counts("HDFS", {{11, 2}}, {{22, 1}, {33, 9}}),
      Counts("HDFS", {{11, 40}}, {{22, 3}}),
      Counts("HDFS", {{11, 7}, {44, 1}}, {{11, 1}, {33, 2}}),
  };
  std::vector<std::vector<float>> x;
  std::vector<double> plain(KindSketch::kSize, 0.0);
  for (const v1::KindCounts& k : site_counts) {
    FlatUpdate flat;
    flat.values = {0.5f, -0.25f, 1.0f};  // the model part
    ASSERT_TRUE(AppendKindSections(layout, {k, Counts("BGL", {{1, 1}}, {})}, kClip, &flat).ok());
    ASSERT_EQ(flat.values.size(), layout.length());
    x.push_back(flat.values);
    std::vector<double> capped = *CapKindBuckets(k);
    for (size_t i = 0; i < plain.size(); ++i) plain[i] += capped[i];
  }
  for (int lane_bits : {32, 64}) {
    SCOPED_TRACE(lane_bits);
    const RoundConfig config = Config(layout.length(), lane_bits, 8192);
    absl::StatusOr<AggregateResult> result = RunRound(config, x, weights, layout.KindLanes());
    ASSERT_TRUE(result.ok()) << result.status();
    // The model part is still the weighted sum.
    EXPECT_NEAR(result->sum.weighted_sum[0], 0.5 * (16 + 37 + 5000), 1e-2);
    std::vector<KindSectionSum> sums =
        KindSumsFromSum(layout, result->sum, 3, kClip, config.quantization.fractional_bits);
    ASSERT_EQ(sums.size(), 1u);
    ASSERT_TRUE(sums[0].status.ok()) << sums[0].status;
    EXPECT_NEAR(sums[0].sites, 3.0, 1e-3);
    const double tol = 3 * std::ldexp(1.0, -(config.quantization.fractional_bits + 1)) * kSiteBucketCap / kClip;
    double largest = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
      EXPECT_NEAR(sums[0].counts[i], plain[i], tol + 1e-12) << i;
      largest = std::max(largest, plain[i]);
    }
    EXPECT_GT(largest, kSiteBucketCap);  // the test sums capped buckets of more than one site
  }
}

TEST(KindSectionsTest, OneSiteAddsAtMostTheCapToABucketWhateverItsWeight) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {1}}}, 0);
  ASSERT_TRUE(AddKindSections({"HDFS"}, &layout).ok());
  // An honest site with one labelled line of kind 7, and a liar of weight 5000 that writes 1e6 into the
  // anomalous lanes of every bucket instead of its capped counts.
  FlatUpdate honest;
  honest.values = {0.0f};
  ASSERT_TRUE(AppendKindSections(layout, {Counts("HDFS", {{7, 1}}, {})}, kClip, &honest).ok());
  std::vector<float> liar(layout.length(), 0.0f);
  for (size_t i = 1; i < 1 + kHalf; ++i) liar[i] = 1e6f;
  liar.back() = 1.0f;
  const RoundConfig config = Config(layout.length(), 64, 8192);
  absl::StatusOr<AggregateResult> result = RunRound(config, {honest.values, liar}, {1, 5000}, layout.KindLanes());
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<KindSectionSum> sums = KindSumsFromSum(layout, result->sum, 2, kClip, config.quantization.fractional_bits);
  ASSERT_TRUE(sums[0].status.ok()) << sums[0].status;
  double most = 0;
  for (size_t i = 0; i < kHalf; ++i) most = std::max(most, sums[0].counts[i]);
  EXPECT_LE(most, kSiteBucketCap + 1 + 1e-6);  // the liar's cap plus the honest line
  EXPECT_GE(most, kSiteBucketCap);
}

TEST(KindSectionsTest, RangeCheckDropsAnOutOfRangeSectionOnly) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {1}}}, 0);
  ASSERT_TRUE(AddKindSections({"BGL", "HDFS", "Spark"}, &layout).ok());
  DecodedSum sum;
  sum.weight_sum = 2;
  sum.weighted_sum.assign(layout.length(), 0.0);
  const size_t bgl = 1, hdfs = bgl + kKindSectionLength, spark = hdfs + kKindSectionLength;
  const double lane = kClip / kSiteBucketCap;  // one count in lane units
  // BGL: two sites, 6 anomalous units in bucket 3: fine.
  sum.weighted_sum[bgl + 3] = 6 * lane;
  sum.weighted_sum[bgl + KindSketch::kSize] = 2;
  // HDFS: a negative bucket (a site subtracted more than the others added).
  sum.weighted_sum[hdfs + 9] = -2 * lane;
  sum.weighted_sum[hdfs + KindSketch::kSize] = 2;
  // Spark: one site filled it, yet a bucket holds more than one site's cap.
  sum.weighted_sum[spark + 4] = 3 * lane;
  sum.weighted_sum[spark + kHalf + 4] = 3 * lane;
  sum.weighted_sum[spark + KindSketch::kSize] = 1;
  std::vector<KindSectionSum> sums = KindSumsFromSum(layout, sum, 2, kClip, 30);
  ASSERT_EQ(sums.size(), 3u);
  ASSERT_TRUE(sums[0].status.ok()) << sums[0].status;
  EXPECT_DOUBLE_EQ(sums[0].counts[3], 6);
  EXPECT_EQ(sums[1].status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(sums[1].counts.empty());
  EXPECT_EQ(sums[2].status.code(), absl::StatusCode::kDataLoss);
  // More sites present than survivors, and a sum of another length, fail too.
  sum.weighted_sum[bgl + KindSketch::kSize] = 3;
  EXPECT_EQ(KindSumsFromSum(layout, sum, 2, kClip, 30)[0].status.code(), absl::StatusCode::kDataLoss);
  sum.weighted_sum.pop_back();
  EXPECT_EQ(KindSumsFromSum(layout, sum, 2, kClip, 30)[0].status.code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace fedlog::secagg
