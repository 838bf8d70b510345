// The update vector's adapter sections (common/secagg/update_vector.h): their layout, what a site derives from
// a round's config and refuses in it, how members and non-members fill a section, and the per-section mean.
#include "common/secagg/update_vector.h"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "common/secagg/quantize.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

constexpr int64_t kOut = 2, kAdapter = 1;

fl::UpdateCheckOptions Schema() {
  fl::UpdateCheckOptions s;
  s.out_dim = kOut;
  s.adapter_dim = kAdapter;
  return s;
}

// One section: down.bias [1], down.weight [1,2], up.bias [2], up.weight [2,1], presence, prototypes [2,2],
// presence: 1 + 2 + 2 + 2 + 1 + 4 + 1 = 13 values.
constexpr uint64_t kSection = 13;

v1::ModelSpec EncoderSpec() {
  v1::ModelSpec spec;
  spec.set_arch("line_encoder");
  spec.mutable_encoder()->set_out_dim(kOut);
  spec.mutable_encoder()->set_adapter_dim(kAdapter);
  return spec;
}

v1::SecAggConfig Config(const std::vector<std::string>& sources, const std::vector<int>& sizes,
                        const std::vector<std::string>& members, uint64_t length) {
  v1::SecAggConfig c;
  c.set_threshold(2);
  c.set_max_sites(3);
  c.set_vector_length(length);
  for (const auto& s : sources) c.add_adapter_sources(s);
  for (int n : sizes) c.add_adapter_group_sizes(n);
  for (const auto& m : members) c.add_member_sources(m);
  return c;
}

fl::NamedTensor Filled(const std::string& name, std::vector<int64_t> shape, float v) {
  fl::NamedTensor t{name, shape, {}};
  t.values.assign(static_cast<size_t>(fl::NumElementsOf(shape)), v);
  return t;
}

// A site's delta: shared "a" [3], and every adapter tensor of `source` at `v` (prototypes when `prototypes`).
fl::TensorBundle Delta(const std::string& source, float v, bool prototypes) {
  fl::TensorBundle d;
  d.tensors.push_back(Filled("a", {3}, v));
  const std::string p = "adapter." + source + ".";
  d.tensors.push_back(Filled(p + "up.weight", {kOut, kAdapter}, v));
  d.tensors.push_back(Filled(p + "down.bias", {kAdapter}, v));
  d.tensors.push_back(Filled(p + "up.bias", {kOut}, v));
  d.tensors.push_back(Filled(p + "down.weight", {kAdapter, kOut}, v));
  if (prototypes) d.tensors.push_back(Filled(p + "prototypes", {2, kOut}, v));
  return d;
}

TEST(UpdateVectorSectionsTest, SectionsFollowThePrototypesInSourceOrder) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {3}}}, kOut);
  ASSERT_TRUE(AddAdapterSections({"Apache", "HDFS"}, Schema(), &layout).ok());
  ASSERT_EQ(layout.adapters.size(), 2u);
  EXPECT_EQ(layout.adapters[0].source, "Apache");
  EXPECT_EQ(layout.adapters[1].weights[0].name, "adapter.HDFS.down.bias");
  EXPECT_EQ(layout.adapters[1].weights[3].name, "adapter.HDFS.up.weight");
  EXPECT_EQ(layout.adapters[1].length(), kSection);
  EXPECT_EQ(layout.length(), 3u + 5u + 2 * kSection);

  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"HDFS", "Apache"}, {"HDFS", "HDFS"}, {"a.b"}, {""}}) {
    UpdateVectorLayout l = MakeUpdateVectorLayout({{"a", {3}}}, kOut);
    EXPECT_FALSE(AddAdapterSections(bad, Schema(), &l).ok()) << bad[0];
  }
  UpdateVectorLayout l = MakeUpdateVectorLayout({{"a", {3}}}, kOut);
  EXPECT_FALSE(AddAdapterSections({"HDFS"}, fl::UpdateCheckOptions(), &l).ok());  // shapes unknown
}

TEST(UpdateVectorSectionsTest, SiteChecksTheRoundsGroups) {
  const fl::BundleLayout model = {{"a", {3}}, {"adapter.BGL.up.bias", {kOut}}};
  const uint64_t length = 3 + 5 + kSection;
  absl::StatusOr<UpdateVectorLayout> ok = LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {2}, {"HDFS"}, length));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->adapters.size(), 1u);  // the model's own BGL adapter has no section: it stays local

  EXPECT_FALSE(LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {}, {}, length)).ok());       // no size
  EXPECT_FALSE(LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {1}, {}, length)).ok());      // below t
  EXPECT_FALSE(LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {4}, {}, length)).ok());      // > max_sites
  EXPECT_FALSE(LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {2}, {"BGL"}, length)).ok());  // not a section
  EXPECT_FALSE(
      LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {2}, {"HDFS", "HDFS"}, length)).ok());  // repeated
  absl::StatusOr<UpdateVectorLayout> short_vector =
      LayoutForRound(model, EncoderSpec(), Config({"HDFS"}, {2}, {}, length - 1));
  EXPECT_EQ(short_vector.status().code(), absl::StatusCode::kFailedPrecondition);
  v1::ModelSpec mlp;
  mlp.set_arch("mlp_autoencoder");
  EXPECT_FALSE(LayoutForRound(model, mlp, Config({"HDFS"}, {2}, {}, 3 + kSection)).ok());
}

TEST(UpdateVectorSectionsTest, MembersFillTheirSectionAndOthersPutZeros) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {3}}}, kOut);
  ASSERT_TRUE(AddAdapterSections({"HDFS"}, Schema(), &layout).ok());
  const size_t at = 3 + 5;  // the section's first value

  absl::StatusOr<FlatUpdate> member = FlattenUpdate(layout, Delta("HDFS", 0.5f, true), 4, {"HDFS"});
  ASSERT_TRUE(member.ok()) << member.status();
  ASSERT_EQ(member->values.size(), layout.length());
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(member->values[at + i], 0.5f) << i;
  EXPECT_EQ(member->values[at + 7], 1.0f);   // weights presence
  EXPECT_EQ(member->values[at + 12], 1.0f);  // prototypes presence

  // The same adapter from a site that is not a member of the group never enters the vector.
  absl::StatusOr<FlatUpdate> other = FlattenUpdate(layout, Delta("HDFS", 0.5f, true), 4, {});
  ASSERT_TRUE(other.ok());
  for (size_t i = at; i < at + kSection; ++i) EXPECT_EQ(other->values[i], 0.0f) << i;

  // A member without prototypes or without one weight tensor: zeros there, still present with its weights.
  fl::TensorBundle partial = Delta("HDFS", 0.5f, false);
  partial.tensors.erase(partial.tensors.begin() + 2);  // down.bias
  absl::StatusOr<FlatUpdate> p = FlattenUpdate(layout, partial, 4, {"HDFS"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->values[at], 0.0f);
  EXPECT_EQ(p->values[at + 1], 0.5f);
  EXPECT_EQ(p->values[at + 7], 1.0f);
  EXPECT_EQ(p->values[at + 12], 0.0f);

  fl::TensorBundle bad = Delta("HDFS", 0.5f, true);
  bad.tensors[1].values[0] = std::nanf("");
  EXPECT_FALSE(FlattenUpdate(layout, bad, 4, {"HDFS"}).ok());
}

TEST(UpdateVectorSectionsTest, SectionMeanIsOverItsMembersWeight) {
  UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {3}}}, kOut);
  ASSERT_TRUE(AddAdapterSections({"HDFS"}, Schema(), &layout).ok());
  // Three sites: members with weights 1 (value 1, prototypes) and 3 (value 2, no prototypes), a non-member of 4.
  std::vector<std::pair<FlatUpdate, double>> inputs;
  inputs.emplace_back(*FlattenUpdate(layout, Delta("HDFS", 1, true), 4, {"HDFS"}), 1);
  inputs.emplace_back(*FlattenUpdate(layout, Delta("HDFS", 2, false), 4, {"HDFS"}), 3);
  inputs.emplace_back(*FlattenUpdate(layout, Delta("HDFS", 3, true), 4, {}), 4);
  DecodedSum sum;
  sum.clip_range = 4;  // FlattenUpdate's clip above
  sum.weighted_sum.assign(layout.length(), 0);
  for (const auto& [flat, w] : inputs) {
    for (size_t i = 0; i < flat.values.size(); ++i) sum.weighted_sum[i] += w * flat.values[i];
    sum.weight_sum += w;
  }
  absl::StatusOr<fl::TensorBundle> mean = MeanFromSum(layout, sum);
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_FLOAT_EQ(mean->Find("a")->values[0], (1 + 6 + 12) / 8.0f);
  EXPECT_FLOAT_EQ(mean->Find("adapter.HDFS.up.weight")->values[1], (1 + 6) / 4.0f);
  EXPECT_FLOAT_EQ(mean->Find("adapter.HDFS.prototypes")->values[0], 1.0f);  // only the first sent them

  // A presence above the weight sum cannot come from honest sites.
  DecodedSum forged = sum;
  forged.weighted_sum[3 + 5 + 7] = 9;
  EXPECT_EQ(MeanFromSum(layout, forged).status().code(), absl::StatusCode::kDataLoss);
  // A shared coordinate beyond R x the weight sum (a site whose values weigh more than its weight lane says)
  // is refused; exactly R x the weight sum passes.
  DecodedSum heavy = sum;
  heavy.weighted_sum[0] = 4 * sum.weight_sum + 0.01;
  EXPECT_EQ(MeanFromSum(layout, heavy).status().code(), absl::StatusCode::kDataLoss);
  heavy.weighted_sum[0] = -4 * sum.weight_sum;
  EXPECT_TRUE(MeanFromSum(layout, heavy).ok());
  // The same within a section, against its presence sum (4 here) rather than the weight sum (8).
  heavy = sum;
  heavy.weighted_sum[3 + 5 + 1] = 4 * 4 + 0.01;  // adapter.HDFS.up.weight[1]
  EXPECT_EQ(MeanFromSum(layout, heavy).status().code(), absl::StatusCode::kDataLoss);
  // A sum without its clip range is not read.
  heavy = sum;
  heavy.clip_range = 0;
  EXPECT_EQ(MeanFromSum(layout, heavy).status().code(), absl::StatusCode::kInvalidArgument);
  // A section nobody filled is left out: the model keeps that adapter.
  DecodedSum empty = sum;
  std::fill(empty.weighted_sum.begin() + 3 + 5, empty.weighted_sum.end(), 0.0);
  mean = MeanFromSum(layout, empty);
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(mean->Find("adapter.HDFS.up.weight"), nullptr);
  EXPECT_EQ(mean->Find("adapter.HDFS.prototypes"), nullptr);
}

// Honest inputs at the edge of what they may carry (every value at +-R or clamped to it, weights from 1 to W) sum
// to what MeanFromSum's bound takes, in `Lane` lanes; the same sum with one site's values weighed one unit more
// than its weight lane is refused.
template <typename Lane>
void HonestExtremesPassAndAHeavierValueDoesNot() {
  constexpr int kSites = 7;
  constexpr int64_t kLength = 6;
  QuantizationOptions o;
  o.clip_range = 4;
  o.max_weight = 300;
  o.max_sites = kSites;
  o.lane_bits = static_cast<int>(sizeof(Lane) * 8);
  o.fractional_bits = MaxFractionalBits(o, o.lane_bits);
  absl::StatusOr<Quantizer> q = Quantizer::Create(o);
  ASSERT_TRUE(q.ok()) << q.status();
  const UpdateVectorLayout layout = MakeUpdateVectorLayout({{"a", {kLength}}}, 0);
  ASSERT_EQ(layout.length(), static_cast<uint64_t>(kLength));
  const std::vector<double> weights = {1, 3.3, 299.99, 300, 17.5, 2, 150.7};
  const std::vector<float> x = {4.0f, -4.0f, 1e9f, -1e9f, 3.9999998f, -3.9999998f};
  std::vector<Lane> sum(kLength + 1, 0), lanes(kLength + 1);
  for (double w : weights) {
    ASSERT_TRUE(q->Encode(x, w, absl::MakeSpan(lanes)).ok());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] = static_cast<Lane>(sum[i] + lanes[i]);  // mod 2^b
  }
  absl::StatusOr<DecodedSum> decoded = q->DecodeSum(absl::Span<const Lane>(sum), kSites);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<fl::TensorBundle> mean = MeanFromSum(layout, *decoded);
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_NEAR(mean->Find("a")->values[0], 4.0, 1e-3);
  EXPECT_NEAR(mean->Find("a")->values[3], -4.0, 1e-3);
  // One more unit of weight on a value at +R than the weight lane carries: beyond any honest sum.
  sum[0] = static_cast<Lane>(sum[0] + static_cast<Lane>(std::llround(4.0 / q->step())));
  decoded = q->DecodeSum(absl::Span<const Lane>(sum), kSites);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(MeanFromSum(layout, *decoded).status().code(), absl::StatusCode::kDataLoss);
}

TEST(UpdateVectorSumBoundTest, HonestExtremesPassAndAHeavierValueDoesNotIn32BitLanes) {
  HonestExtremesPassAndAHeavierValueDoesNot<uint32_t>();
}

TEST(UpdateVectorSumBoundTest, HonestExtremesPassAndAHeavierValueDoesNotIn64BitLanes) {
  HonestExtremesPassAndAHeavierValueDoesNot<uint64_t>();
}

}  // namespace
}  // namespace fedlog::secagg
