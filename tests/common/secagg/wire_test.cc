// The wire form of the secagg messages: what a peer sends is checked (sizes, indices, field elements) before
// the state machines see it, and round trips keep every field; the update vector's layout and its inverse.
#include "common/secagg/wire.h"

#include <climits>
#include <cmath>
#include <cstdint>

#include "common/secagg/peer_auth.h"
#include "common/secagg/update_vector.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

TEST(WireTest, AdvertiseTakesTheAuthenticatedIdAndChecksKeySizes) {
  AdvertiseKeys k;
  k.site_id = "ignored";
  k.encryption_key.fill(1);
  k.mask_key.fill(2);
  k.key_signature = "sig";  // verified by the aggregator against the caller's certificate, not here
  v1::SecAggAdvertiseRequest p = AdvertiseToProto(k, "session");
  absl::StatusOr<AdvertiseKeys> back = AdvertiseFromProto(p, "site-a");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->site_id, "site-a");
  EXPECT_EQ(back->mask_key, k.mask_key);
  EXPECT_EQ(back->key_signature, "sig");
  EXPECT_TRUE(back->certificate.empty());  // never from the request
  p.set_mask_key("short");
  EXPECT_EQ(AdvertiseFromProto(p, "site-a").status().code(), absl::StatusCode::kInvalidArgument);
}

// Protocol version 5: keys come signed, and roster entries carry the certificate and signature; both bounded.
TEST(WireTest, SignaturesAndCertificatesArePresentAndBounded) {
  AdvertiseKeys k;
  v1::SecAggAdvertiseRequest p = AdvertiseToProto(k, "session");
  EXPECT_EQ(AdvertiseFromProto(p, "site-a").status().code(), absl::StatusCode::kInvalidArgument);  // unsigned
  p.set_key_signature(std::string(kMaxSignatureBytes + 1, 's'));
  EXPECT_EQ(AdvertiseFromProto(p, "site-a").status().code(), absl::StatusCode::kInvalidArgument);
  KeyRoster roster;
  roster.entries.push_back({1, "site-a", {}, {}, "CERT", "SIG"});
  v1::SecAggRoster rp = RosterToProto(roster);
  absl::StatusOr<KeyRoster> back = RosterFromProto(rp);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->entries.at(0).certificate, "CERT");
  EXPECT_EQ(back->entries.at(0).key_signature, "SIG");
  rp.mutable_entries(0)->clear_certificate();
  EXPECT_EQ(RosterFromProto(rp).status().code(), absl::StatusCode::kInvalidArgument);
  rp.mutable_entries(0)->set_certificate(std::string(kMaxCertificateBytes + 1, 'c'));
  EXPECT_EQ(RosterFromProto(rp).status().code(), absl::StatusCode::kInvalidArgument);
  // The unmask list's signatures and the confirmation.
  UnmaskRequest u{{1, 2}, {3}, {{1, "s1"}, {2, "s2"}}};
  absl::StatusOr<UnmaskRequest> ub = UnmaskRequestFromProto(UnmaskRequestToProto(u));
  ASSERT_TRUE(ub.ok()) << ub.status();
  ASSERT_EQ(ub->signatures.size(), 2u);
  EXPECT_EQ(ub->signatures[1].from, 2u);
  EXPECT_EQ(ub->signatures[1].signature, "s2");
  v1::SecAggUnmaskList bad = UnmaskRequestToProto(u);
  bad.mutable_signatures(0)->set_from(0);
  EXPECT_EQ(UnmaskRequestFromProto(bad).status().code(), absl::StatusCode::kInvalidArgument);
  v1::SecAggUnmaskRequest c = ConfirmationToProto({2, "sig"}, "session");
  EXPECT_TRUE(IsConfirmation(c));
  ASSERT_TRUE(ConfirmationFromProto(c).ok());
  c.add_shares();
  EXPECT_EQ(ConfirmationFromProto(c).status().code(), absl::StatusCode::kInvalidArgument);
}

// Protocol version 3: the stated weight travels with the keys and is checked as a number from a peer.
TEST(WireTest, AdvertiseCarriesTheStatedWeightAndRefusesANonsenseOne) {
  AdvertiseKeys k;
  k.weight = 1400;
  k.key_signature = "sig";
  v1::SecAggAdvertiseRequest p = AdvertiseToProto(k, "session");
  absl::StatusOr<AdvertiseKeys> back = AdvertiseFromProto(p, "site-a");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->weight, 1400);
  for (double bad : {-1.0, 2e12, std::nan(""), HUGE_VAL}) {
    p.set_weight(bad);
    EXPECT_EQ(AdvertiseFromProto(p, "site-a").status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
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

TEST(WireTest, ConfigCarriesLaneWidthAndFractionBits) {
  RoundConfig c;
  c.session_id = "abc";
  c.threshold = 2;
  c.vector_length = 10;
  c.quantization.max_sites = 3;
  c.quantization.max_weight = 1;
  c.quantization = ChooseLanes(c.quantization);
  ASSERT_EQ(c.quantization.lane_bits, 32);
  v1::SecAggConfig p = ConfigToProto(c);
  EXPECT_EQ(p.lane_bits(), 32u);
  EXPECT_EQ(p.fractional_bits(), c.quantization.fractional_bits);
  absl::StatusOr<RoundConfig> back = ConfigFromProto(p);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->quantization.lane_bits, 32);
  EXPECT_EQ(back->quantization.fractional_bits, c.quantization.fractional_bits);
  // A 64-bit config states its derived f too.
  RoundConfig wide = c;
  wide.quantization.lane_bits = 64;
  wide.quantization.fractional_bits = 0;
  p = ConfigToProto(wide);
  EXPECT_EQ(p.lane_bits(), 64u);
  EXPECT_EQ(p.fractional_bits(), MaxFractionalBits(wide.quantization, 64));
  // An aggregator without the fields meant 64-bit lanes at the largest safe f.
  p.clear_lane_bits();
  p.clear_fractional_bits();
  back = ConfigFromProto(p);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->quantization.lane_bits, 64);
  EXPECT_EQ(Quantizer::Create(back->quantization)->fractional_bits(), MaxFractionalBits(wide.quantization, 64));
  // Refused: a width without f, an unknown width, and an f under which the sum could wrap.
  p = ConfigToProto(c);
  p.set_fractional_bits(0);
  EXPECT_EQ(ConfigFromProto(p).status().code(), absl::StatusCode::kInvalidArgument);
  p = ConfigToProto(c);
  p.set_lane_bits(16);
  EXPECT_EQ(ConfigFromProto(p).status().code(), absl::StatusCode::kInvalidArgument);
  p = ConfigToProto(c);
  p.set_fractional_bits(c.quantization.fractional_bits + 1);
  EXPECT_EQ(ConfigFromProto(p).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WireTest, LanesRoundTripInBothWidthsAndSizeIsChecked) {
  std::vector<uint64_t> wide = {0, 1, ~uint64_t{0}, uint64_t{1} << 63};
  std::string bytes = EncodeLanes(wide);
  ASSERT_EQ(bytes.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]), 1u);  // little-endian
  absl::StatusOr<std::vector<int64_t>> back = DecodeSignedLanes(bytes, 4, 64);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (std::vector<int64_t>{0, 1, -1, INT64_MIN}));
  EXPECT_FALSE(DecodeSignedLanes(bytes, 5, 64).ok());
  EXPECT_FALSE(DecodeSignedLanes(bytes + "x", 4, 64).ok());
  std::vector<uint32_t> narrow = {0, 1, ~uint32_t{0}, uint32_t{1} << 31, 12345};
  bytes = EncodeLanes(narrow);
  ASSERT_EQ(bytes.size(), 20u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[4]), 1u);
  back = DecodeSignedLanes(bytes, 5, 32);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (std::vector<int64_t>{0, 1, -1, INT32_MIN, 12345}));
  EXPECT_FALSE(DecodeSignedLanes(bytes, 4, 32).ok());
  EXPECT_FALSE(DecodeSignedLanes(bytes, 2, 64).ok());  // 20 bytes are not two 64-bit lanes
  EXPECT_FALSE(DecodeSignedLanes(bytes, 5, 16).ok());
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
  sum.clip_range = 4;  // the FlattenUpdate clip above
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
