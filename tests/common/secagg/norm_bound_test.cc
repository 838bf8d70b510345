// The bound on one site's update norm under secure aggregation (common/secagg/norm_bound.h): where a vector's
// values lie, the site's scaling and the norm it states, and the aggregator's check of the decoded sum against
// honest sites at the bound and against one site that masks past it.
#include "common/secagg/norm_bound.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/secagg/quantize.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

// Shared "a" [3] and "b" [2], prototypes.global [2, 2], one adapter section of source "s" (out 2, adapter 1):
// down.bias [1], down.weight [1, 2], up.bias [2], up.weight [2, 1], presence, prototypes [2, 2], presence.
UpdateVectorLayout Layout() {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"b", {2}}, {"a", {3}}}, 2);
  fl::UpdateCheckOptions schema;
  schema.out_dim = 2;
  schema.adapter_dim = 1;
  EXPECT_TRUE(AddAdapterSections({"s"}, schema, &layout).ok());
  return layout;
}

TEST(NormBoundTest, PartsCoverTheValuesAndNotThePresenceLanes) {
  const UpdateVectorLayout layout = Layout();
  ASSERT_EQ(layout.length(), 5u + 5u + 13u);
  const std::vector<NormPart> parts = NormParts(layout);
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].values.begin, 0u);  // shared: divided by the weight sum
  EXPECT_EQ(parts[0].values.end, 5u);
  EXPECT_EQ(parts[0].presence_lane, -1);
  EXPECT_EQ(parts[1].values.begin, 5u);  // prototypes.global, then its presence lane 9
  EXPECT_EQ(parts[1].values.end, 9u);
  EXPECT_EQ(parts[1].presence_lane, 9);
  EXPECT_EQ(parts[2].values.begin, 10u);  // the adapter's weights (7 values), presence lane 17
  EXPECT_EQ(parts[2].values.end, 17u);
  EXPECT_EQ(parts[2].presence_lane, 17);
  EXPECT_EQ(parts[3].values.begin, 18u);  // the adapter's prototypes, presence lane 22, the last lane
  EXPECT_EQ(parts[3].values.end, 22u);
  EXPECT_EQ(parts[3].presence_lane, 22);
}

TEST(NormBoundTest, ClippingScalesTheValuesOnlyAndOnlyAboveTheBound) {
  const std::vector<ValueRange> ranges = {{0, 2}, {3, 4}};
  std::vector<float> x = {3, 0, 1, 4};  // values 3, 0 and 4: norm 5; x[2] is a presence lane
  ASSERT_NEAR(*ValueNorm(x, ranges), 5, 1e-12);
  EXPECT_FALSE(*ClipValueNorm(5, ranges, &x));
  EXPECT_FALSE(*ClipValueNorm(0, ranges, &x));  // 0: no bound
  EXPECT_TRUE(*ClipValueNorm(2.5, ranges, &x));
  EXPECT_FLOAT_EQ(x[0], 1.5f);
  EXPECT_FLOAT_EQ(x[2], 1.0f);
  EXPECT_FLOAT_EQ(x[3], 2.0f);
  EXPECT_FALSE(ClipValueNorm(-1, ranges, &x).ok());
  EXPECT_FALSE(ClipValueNorm(std::nan(""), ranges, &x).ok());
  EXPECT_FALSE(ValueNorm(x, {{2, 9}}).ok());  // outside the vector
}

TEST(NormBoundTest, TheStatedNormIsRoundedUpToAQuarterPowerOfTwo) {
  EXPECT_EQ(*ReportedNorm(0), 0);
  EXPECT_DOUBLE_EQ(*ReportedNorm(1), 1);
  EXPECT_DOUBLE_EQ(*ReportedNorm(8), 8);
  for (double n : {1e-9, 0.0123, 0.3, 1.0000001, 7.9, 12345.6}) {
    const double r = *ReportedNorm(n);
    EXPECT_GE(r, n);
    EXPECT_LT(r, n * std::exp2(0.25) * (1 + 1e-12));
    const double k = 4 * std::log2(r);
    EXPECT_NEAR(k, std::round(k), 1e-9) << n;
  }
  EXPECT_FALSE(ReportedNorm(-1).ok());
  EXPECT_FALSE(ReportedNorm(INFINITY).ok());
  EXPECT_GE(MaxReportedNorm(4, 100), *ReportedNorm(4 * 10));
}

// Encodes each site's x at its weight (the adapter section filled by members only), sums the lanes and decodes.
DecodedSum SumOf(const std::vector<std::vector<float>>& xs, const std::vector<double>& weights) {
  QuantizationOptions o;
  o.clip_range = 4;
  o.max_weight = 1000;
  o.max_sites = 8;
  auto q = Quantizer::Create(o);
  EXPECT_TRUE(q.ok()) << q.status();
  std::vector<uint64_t> sum(xs[0].size() + 1, 0);
  for (size_t s = 0; s < xs.size(); ++s) {
    std::vector<uint64_t> lanes(sum.size());
    EXPECT_TRUE(q->Encode(xs[s], weights[s], absl::MakeSpan(lanes)).ok());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += lanes[i];
  }
  auto decoded = q->DecodeSum(sum, static_cast<int>(xs.size()));
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  return *decoded;
}

// A site's vector for Layout(): shared values `v`, prototypes `p` (presence 1), and the adapter section at `a`
// when a member (presence lanes 1), zeros otherwise.
std::vector<float> Site(float v, float p, bool member, float a) {
  std::vector<float> x(23, 0.0f);
  for (int i = 0; i < 5; ++i) x[i] = v;
  for (int i = 5; i < 9; ++i) x[i] = p;
  x[9] = 1;
  if (member) {
    for (int i = 10; i < 17; ++i) x[i] = a;
    x[17] = 1;
    for (int i = 18; i < 22; ++i) x[i] = a;
    x[22] = 1;
  }
  return x;
}

TEST(NormBoundTest, HonestSitesAtTheBoundPassAndOneBeyondItFails) {
  const UpdateVectorLayout layout = Layout();
  const std::vector<ValueRange> ranges = ValueRanges(layout);
  // Three sites scaled to the bound 1 and aligned (the worst case for the sum), with different weights; one of
  // them alone in the adapter group, at the bound there too.
  std::vector<std::vector<float>> xs = {Site(0.9f, 0.9f, true, 0.9f), Site(0.4f, 0.4f, false, 0),
                                        Site(0.2f, 0.1f, false, 0)};
  for (auto& x : xs) ASSERT_TRUE(ClipValueNorm(1, ranges, &x).ok());
  EXPECT_TRUE(CheckNormBound(layout, SumOf(xs, {100, 300, 7}), 1).ok());
  // The same sites with the first one's shared values and prototypes a hundred times its bound (the encoder
  // clamps them to the clip range 4), weight lane unchanged: the shared part's sum exceeds the bound times the
  // weight sum. A smaller boost can pass: what the others' sum leaves of that budget is what a site past its
  // bound can take (docs/SECURITY.md "What remains").
  std::vector<std::vector<float>> boosted = xs;
  for (int i = 0; i < 9; ++i) boosted[0][i] *= 100;
  const absl::Status st = CheckNormBound(layout, SumOf(boosted, {100, 300, 7}), 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  // Boosting only its adapter section (where it is alone) is caught against the section's own presence sum,
  // however small the site's weight is against the round's weight sum.
  boosted = xs;
  for (int i = 10; i < 17; ++i) boosted[0][i] *= 4;
  EXPECT_EQ(CheckNormBound(layout, SumOf(boosted, {100, 300, 7}), 1).code(), absl::StatusCode::kDataLoss);
  // No bound: nothing is checked; a bad bound is refused.
  EXPECT_TRUE(CheckNormBound(layout, SumOf(boosted, {100, 300, 7}), 0).ok());
  EXPECT_EQ(CheckNormBound(layout, SumOf(xs, {100, 300, 7}), -1).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedlog::secagg
