// The wire form of the secagg messages: what a peer sends is checked (sizes, indices, field elements) before
// the state machines see it, and round trips keep every field; the update vector's layout and its inverse.
#include "common/secagg/wire.h"

#include <cmath>

#include "common/secagg/update_vector.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

TEST(WireTest, AdvertiseTakesTheAuthenticatedIdAndChecksKeySizes) {
  AdvertiseKeys k;
  k.site_id = "ignored";
  k.encryption_key.fill(1);
  k.mask_key.fill(2);
  v1::SecAggAdvertiseRequest p = AdvertiseToProto(k, "session");
  absl::StatusOr<AdvertiseKeys> back = AdvertiseFromProto(p, "site-a");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->site_id, "site-a");
  EXPECT_EQ(back->mask_key, k.mask_key);
  p.set_mask_key("short");
  EXPECT_EQ(AdvertiseFromProto(p, "site-a").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WireTest, UnmaskResponseRejectsBadShares) {
  UnmaskResponse r;
  r.from = 2;
  RevealedShare s;
  s.owner = 1;
  s.kind = ShareKind::kMaskPrivateKey;
  s.share.x = 2;
  s.share.y = {1, 2, 3, 4, 5};
  r.shares.push_back(s);
  v1::SecAggUnmaskRequest p = UnmaskResponseToProto(r, "s");
  absl::StatusOr<UnmaskResponse> back = UnmaskResponseFromProto(p);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shares.at(0).kind, ShareKind::kMaskPrivateKey);
  EXPECT_EQ(back->shares.at(0).share.y[4], 5u);

  v1::SecAggUnmaskRequest bad = p;
  bad.mutable_shares(0)->set_y(0, kShamirPrime);  // outside the field
  EXPECT_FALSE(UnmaskResponseFromProto(bad).ok());
  bad = p;
  bad.mutable_shares(0)->add_y(1);  // six limbs
  EXPECT_FALSE(UnmaskResponseFromProto(bad).ok());
  bad = p;
  bad.mutable_shares(0)->set_owner(0);  // index 0 is no site
  EXPECT_FALSE(UnmaskResponseFromProto(bad).ok());
  bad = p;
  bad.set_from(1u << 20);
  EXPECT_FALSE(UnmaskResponseFromProto(bad).ok());
}

TEST(WireTest, SharesAndListsAreBounded) {
  v1::SecAggShareKeysRequest p;
  p.set_from(1);
  auto* s = p.add_shares();
  s->set_from(1);
  s->set_to(2);
  s->set_ciphertext(std::string(kMaxShareCiphertextBytes + 1, 'x'));
  EXPECT_FALSE(ShareKeysFromProto(p).ok());
  s->set_ciphertext("abc");
  EXPECT_TRUE(ShareKeysFromProto(p).ok());
  v1::SecAggUnmaskList l;
  l.add_survivors(0);
  EXPECT_FALSE(UnmaskRequestFromProto(l).ok());
}

TEST(WireTest, ConfigChecksVersionAndBounds) {
  RoundConfig c;
  c.session_id = "abc";
  c.threshold = 2;
  c.vector_length = 10;
  c.quantization.max_sites = 3;
  v1::SecAggConfig p = ConfigToProto(c);
  ASSERT_TRUE(ConfigFromProto(p).ok());
  p.set_protocol_version(99);
  EXPECT_EQ(ConfigFromProto(p).status().code(), absl::StatusCode::kFailedPrecondition);
  p = ConfigToProto(c);
  p.set_vector_length(0);
  EXPECT_FALSE(ConfigFromProto(p).ok());
}

TEST(WireTest, LanesRoundTripAndSizeIsChecked) {
  std::vector<uint64_t> lanes = {0, 1, ~uint64_t{0}, uint64_t{1} << 63};
  std::string bytes = EncodeLanes(lanes);
  ASSERT_EQ(bytes.size(), 32u);
  EXPECT_EQ(*DecodeLanes(bytes, 4), lanes);
  EXPECT_FALSE(DecodeLanes(bytes, 5).ok());
  EXPECT_FALSE(DecodeLanes(bytes + "x", 4).ok());
}

TEST(UpdateVectorTest, FlattenClampsAndMeanInvertsPerSection) {
  fl::BundleLayout model = {{"b", {2}}, {"a", {3}}, {"adapter.HDFS.up.bias", {4}}};
  UpdateVectorLayout layout = MakeUpdateVectorLayout(model, 2);
  ASSERT_EQ(layout.shared.size(), 2u);
  EXPECT_EQ(layout.shared[0].name, "a");  // sorted, adapters left out
  EXPECT_EQ(layout.length(), 3u + 2u + 4u + 1u);

  fl::TensorBundle delta;
  delta.tensors.push_back({"a", {3}, {1, -9, 2}});
  delta.tensors.push_back({"b", {2}, {0.5, 0.25}});
  delta.tensors.push_back({"adapter.HDFS.up.bias", {4}, {7, 7, 7, 7}});
  absl::StatusOr<FlatUpdate> flat = FlattenUpdate(layout, delta, 4);
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(flat->clipped, 1);
  EXPECT_EQ(flat->values[1], -4.0f);
  EXPECT_EQ(flat->values[9], 0.0f);  // no prototypes: presence 0

  delta.tensors.push_back({"prototypes.global", {2, 2}, {1, 1, 1, 1}});
  flat = FlattenUpdate(layout, delta, 4);
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->values[9], 1.0f);

  // Two sites, weights 1 and 3; only the second sent prototypes.
  DecodedSum sum;
  sum.weight_sum = 4;
  sum.weighted_sum = {4, 0, 8, 2, 1, 3, 3, 3, 3, 3};
  absl::StatusOr<fl::TensorBundle> mean = MeanFromSum(layout, sum);
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_EQ(mean->Find("a")->values[0], 1.0f);
  EXPECT_EQ(mean->Find("prototypes.global")->values[0], 1.0f);  // over the weight that sent them
  sum.weighted_sum[9] = 0;
  mean = MeanFromSum(layout, sum);
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(mean->Find("prototypes.global"), nullptr);

  delta.tensors[0].shape = {1, 3};
  EXPECT_FALSE(FlattenUpdate(layout, delta, 4).ok());
  sum.weight_sum = 0;
  EXPECT_FALSE(MeanFromSum(layout, sum).ok());
}

}  // namespace
}  // namespace fedlog::secagg
