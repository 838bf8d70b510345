#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/secagg/crypto.h"
#include "common/secagg/prg.h"
#include "common/secagg/quantize.h"
#include "common/secagg/shamir.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

SecretKey Key(uint8_t b) {
  std::array<uint8_t, 32> a;
  a.fill(b);
  return SecretKey(a);
}

TEST(CryptoTest, X25519AgreementIsSymmetric) {
  auto a = GenerateX25519();
  auto b = GenerateX25519();
  ASSERT_TRUE(a.ok() && b.ok());
  auto ab = X25519Agree(a->private_key, b->public_key);
  auto ba = X25519Agree(b->private_key, a->public_key);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_TRUE(*ab == *ba);
  EXPECT_EQ(*X25519PublicFromPrivate(a->private_key), a->public_key);
  PublicKey zero{};
  EXPECT_FALSE(X25519Agree(a->private_key, zero).ok());  // low-order point
}

// Little-endian u-coordinates of the points of small order (orders 1, 2, 4 and 8) and their non-canonical
// encodings u + p: every one gives the all-zero secret with any clamped scalar.
PublicKey SmallOrderPoint(const char* hex) {
  PublicKey k{};
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<uint8_t>(std::stoul(std::string(hex + 2 * i, 2), nullptr, 16));
  }
  return k;
}

TEST(CryptoTest, PublicKeysOfSmallOrderAreRefused) {
  auto a = GenerateX25519();
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(CheckX25519PublicKey(a->public_key).ok());
  for (const char* hex : {
           "0000000000000000000000000000000000000000000000000000000000000000",  // u = 0
           "0100000000000000000000000000000000000000000000000000000000000000",  // u = 1
           "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  // order 8
           "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  // order 8
           "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // u = p - 1
           "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // u = p (0)
           "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // u = p + 1 (1)
       }) {
    absl::Status st = CheckX25519PublicKey(SmallOrderPoint(hex));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << hex;
  }
}

TEST(CryptoTest, HkdfSeparatesSaltAndInfo) {
  SecretKey ikm = Key(1);
  auto x = HkdfSha256(ikm, "s1", "i");
  auto y = HkdfSha256(ikm, "s2", "i");
  auto z = HkdfSha256(ikm, "s1", "j");
  ASSERT_TRUE(x.ok() && y.ok() && z.ok());
  EXPECT_FALSE(*x == *y);
  EXPECT_FALSE(*x == *z);
  EXPECT_TRUE(*x == *HkdfSha256(ikm, "s1", "i"));
}

TEST(CryptoTest, HkdfDependsOnTheLastIkmBit) {
  SecretKey a = Key(0x0b), b = Key(0x0b);
  b.data()[31] ^= 1;
  EXPECT_FALSE(*HkdfSha256(a, "salt", "info") == *HkdfSha256(b, "salt", "info"));
}

TEST(CryptoTest, AesGcmRoundTripAndTamperDetection) {
  SecretKey k = Key(9);
  auto sealed = AesGcmSeal(k, "secret share bytes", "aad");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*AesGcmOpen(k, *sealed, "aad"), "secret share bytes");
  EXPECT_EQ(AesGcmOpen(k, *sealed, "other").status().code(), absl::StatusCode::kPermissionDenied);
  std::string bad = *sealed;
  bad[14] ^= 1;
  EXPECT_FALSE(AesGcmOpen(k, bad, "aad").ok());
  EXPECT_FALSE(AesGcmOpen(Key(8), *sealed, "aad").ok());
  EXPECT_NE(*AesGcmSeal(k, "x", "a"), *AesGcmSeal(k, "x", "a"));  // fresh nonce each time
}

TEST(PrgTest, AddThenSubtractIsIdentityAndStreamsDiffer) {
  std::vector<uint64_t> v(10007), orig;
  for (size_t i = 0; i < v.size(); ++i) v[i] = i * 7919;
  orig = v;
  ASSERT_TRUE(ApplyMask(Key(1), MaskSign::kAdd, absl::MakeSpan(v)).ok());
  EXPECT_NE(v, orig);
  ASSERT_TRUE(ApplyMask(Key(1), MaskSign::kSubtract, absl::MakeSpan(v)).ok());
  EXPECT_EQ(v, orig);
  std::vector<uint64_t> a(64), b(64);
  ASSERT_TRUE(ExpandMask(Key(1), absl::MakeSpan(a)).ok());
  ASSERT_TRUE(ExpandMask(Key(2), absl::MakeSpan(b)).ok());
  EXPECT_NE(a, b);
  // A prefix of a longer expansion equals the shorter expansion (lanes do not depend on the vector length).
  std::vector<uint64_t> longer(5000);
  ASSERT_TRUE(ExpandMask(Key(1), absl::MakeSpan(longer)).ok());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), longer.begin()));
}

TEST(PrgTest, ApplyMasksEqualsOneApplyMaskPerTerm) {
  // 10007 lanes: several chunks and a partial one.
  std::vector<uint64_t> one_by_one(10007), fused;
  for (size_t i = 0; i < one_by_one.size(); ++i) one_by_one[i] = i * 104729;
  fused = one_by_one;
  const SecretKey k1 = Key(1), k2 = Key(2), k3 = Key(3);
  ASSERT_TRUE(ApplyMask(k1, MaskSign::kAdd, absl::MakeSpan(one_by_one)).ok());
  ASSERT_TRUE(ApplyMask(k2, MaskSign::kSubtract, absl::MakeSpan(one_by_one)).ok());
  ASSERT_TRUE(ApplyMask(k3, MaskSign::kAdd, absl::MakeSpan(one_by_one)).ok());
  const std::vector<MaskTerm> terms = {{&k1, MaskSign::kAdd}, {&k2, MaskSign::kSubtract}, {&k3, MaskSign::kAdd}};
  ASSERT_TRUE(ApplyMasks(terms, absl::MakeSpan(fused)).ok());
  EXPECT_EQ(fused, one_by_one);
  EXPECT_TRUE(ApplyMasks({}, absl::MakeSpan(fused)).ok());  // no terms: unchanged
  EXPECT_EQ(fused, one_by_one);
  EXPECT_FALSE(ApplyMasks(std::vector<MaskTerm>{{nullptr, MaskSign::kAdd}}, absl::MakeSpan(fused)).ok());
}

TEST(PrgTest, ThirtyTwoBitLanesReadTheSameKeyStream) {
  // Both widths read one AES-CTR key stream: 32-bit lane 2i and 2i+1 are the halves of 64-bit lane i (host
  // order), so a 32-bit round's masks are as uniform as a 64-bit round's, bit for bit.
  std::vector<uint64_t> wide(5000);
  std::vector<uint32_t> narrow(10000);
  ASSERT_TRUE(ExpandMask(Key(4), absl::MakeSpan(wide)).ok());
  ASSERT_TRUE(ExpandMask(Key(4), absl::MakeSpan(narrow)).ok());
  EXPECT_EQ(std::memcmp(wide.data(), narrow.data(), wide.size() * 8), 0);
  // Add then subtract is the identity mod 2^32; a sum of masks applied piece by piece (MaskStreams, pieces of
  // odd sizes that split AES blocks) equals one pass over the whole vector.
  std::vector<uint32_t> v(10007), orig;
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint32_t>(i * 2654435761u);
  orig = v;
  const SecretKey k1 = Key(1), k2 = Key(2);
  const std::vector<MaskTerm> terms = {{&k1, MaskSign::kAdd}, {&k2, MaskSign::kSubtract}};
  std::vector<uint32_t> whole = v;
  ASSERT_TRUE(ApplyMasks(terms, absl::MakeSpan(whole)).ok());
  EXPECT_NE(whole, orig);
  absl::StatusOr<MaskStreams> streams = MaskStreams::Start(terms);
  ASSERT_TRUE(streams.ok());
  for (size_t off = 0, piece = 1; off < v.size(); off += piece, piece = piece * 3 + 1) {
    piece = std::min(piece, v.size() - off);
    ASSERT_TRUE(streams->Apply(absl::MakeSpan(v.data() + off, piece)).ok());
  }
  EXPECT_EQ(v, whole);
  ASSERT_TRUE(ApplyMask(k1, MaskSign::kSubtract, absl::MakeSpan(v)).ok());
  ASSERT_TRUE(ApplyMask(k2, MaskSign::kAdd, absl::MakeSpan(v)).ok());
  EXPECT_EQ(v, orig);
}

TEST(PrgTest, LanesAreUniformBitByBit) {
  std::vector<uint64_t> v(1 << 16);
  ASSERT_TRUE(ExpandMask(Key(3), absl::MakeSpan(v)).ok());
  // Each of the 64 bit positions is set in about half the lanes (stddev 128 out of 65536): the whole 64-bit
  // lane carries entropy, none of it squeezed.
  for (int bit = 0; bit < 64; ++bit) {
    int ones = 0;
    for (uint64_t x : v) ones += (x >> bit) & 1;
    EXPECT_NEAR(ones, 32768, 6 * 128) << "bit " << bit;
  }
}

TEST(ShamirTest, AnyTOfNRecoverAndFewerDoNot) {
  SecretKey secret = *SecretKey::Random();
  std::vector<uint32_t> xs = {1, 2, 3, 4, 5, 6, 7};
  auto shares = ShamirSplit(secret, 4, xs);
  ASSERT_TRUE(shares.ok());
  // Every 4-subset of a few chosen ones recovers it.
  for (std::vector<int> pick : {std::vector<int>{0, 1, 2, 3}, {6, 4, 2, 0}, {1, 3, 5, 6}, {2, 3, 4, 5}}) {
    std::vector<ShamirShare> sub;
    for (int i : pick) sub.push_back((*shares)[static_cast<size_t>(i)]);
    auto back = ShamirCombine(sub, 4);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == secret);
  }
  std::vector<ShamirShare> three((*shares).begin(), (*shares).begin() + 3);
  EXPECT_FALSE(ShamirCombine(three, 4).ok());
  // Three shares with threshold 3 give (almost surely) no valid secret, or a different one.
  auto wrong = ShamirCombine(three, 3);
  EXPECT_TRUE(!wrong.ok() || !(*wrong == secret));
  EXPECT_FALSE(ShamirSplit(secret, 8, xs).ok());
  EXPECT_FALSE(ShamirSplit(secret, 2, std::vector<uint32_t>{1, 1, 2}).ok());
  EXPECT_FALSE(ShamirSplit(secret, 2, std::vector<uint32_t>{0, 1, 2}).ok());
}

TEST(ShamirTest, EncodingRoundTripsAndRejectsOutOfField) {
  auto shares = ShamirSplit(Key(5), 2, std::vector<uint32_t>{3, 9});
  ASSERT_TRUE(shares.ok());
  std::string enc;
  AppendShare((*shares)[1], &enc);
  ASSERT_EQ(enc.size(), kEncodedShareBytes);
  auto dec = DecodeShare(enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->x, 9u);
  EXPECT_EQ(dec->y, (*shares)[1].y);
  enc[4 + 7] = static_cast<char>(0xff);  // top byte of the first value: >= p
  EXPECT_FALSE(DecodeShare(enc).ok());
  EXPECT_FALSE(DecodeShare("short").ok());
}

TEST(QuantizeTest, FractionalBitsLeaveRoomForTheSumOfAllSites) {
  QuantizationOptions o;
  o.clip_range = 4;
  o.max_weight = 1e6;
  o.max_sites = 1024;
  auto q = Quantizer::Create(o);
  ASSERT_TRUE(q.ok());
  // 1024 * 4 * 1e6 * 2^f <= 2^62.
  EXPECT_LE(std::log2(1024.0 * 4 * 1e6) + q->fractional_bits(), 62.0);
  EXPECT_GT(std::log2(1024.0 * 4 * 1e6) + q->fractional_bits() + 1, 62.0);
  // The worst case sum does not wrap: max_sites inputs at +R with weight W decode exactly.
  std::vector<float> x = {4.0f, -4.0f, 100.0f};  // 100 clamps to 4
  std::vector<uint64_t> one(4), sum(4, 0);
  ASSERT_TRUE(q->Encode(x, 1e6, absl::MakeSpan(one)).ok());
  for (int s = 0; s < 1024; ++s) {
    for (size_t i = 0; i < 4; ++i) sum[i] += one[i];
  }
  auto d = q->DecodeSum(sum, 1024);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(d->weighted_sum[0], 1024 * 4e6);
  EXPECT_DOUBLE_EQ(d->weighted_sum[1], -1024 * 4e6);
  EXPECT_DOUBLE_EQ(d->weighted_sum[2], 1024 * 4e6);
  EXPECT_DOUBLE_EQ(d->weight_sum, 1024 * 1e6);
  // Out-of-range sums (what garbage or a missed mask produces) are refused.
  sum[1] += uint64_t{1} << 63;
  EXPECT_EQ(q->DecodeSum(sum, 1024).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(q->Encode(x, 2e6, absl::MakeSpan(one)).ok());
  std::vector<float> nan = {std::nanf(""), 0, 0};
  EXPECT_FALSE(q->Encode(nan, 1, absl::MakeSpan(one)).ok());
  o.max_weight = 1e15;
  EXPECT_FALSE(Quantizer::Create(o).ok());  // fewer than 8 fractional bits would remain
}

TEST(QuantizeTest, LaneChoiceWithAKnownSmallestWeight) {
  // Sample weights up to W = 4096 at 16 sites: f = 12 in 32 bits, too coarse for a site of weight 1 (2^-12), but
  // within 2^-16 for every site of weight >= 16.
  QuantizationOptions o;
  o.clip_range = 4;
  o.max_weight = 4096;
  o.max_sites = 16;
  EXPECT_EQ(ChooseLanes(o).lane_bits, 64);
  EXPECT_EQ(ChooseLanes(o, 8).lane_bits, 64);  // 2^-12 / 8 = 2^-15
  QuantizationOptions c = ChooseLanes(o, 16);
  EXPECT_EQ(c.lane_bits, 32);
  EXPECT_EQ(c.fractional_bits, 12);
  EXPECT_EQ(ChooseLanes(o, 31).lane_bits, 32);  // floor(log2(31)) = 4
  absl::StatusOr<Quantizer> q = Quantizer::Create(c);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->CheckPrecision(16).ok());
  EXPECT_FALSE(q->CheckPrecision(15).ok());  // a site below the expected weight refuses to mask
  // The 8-bit floor on f holds whatever the smallest weight: W = 2^17 leaves f = 7 in 32 bits.
  o.max_weight = 131072;
  EXPECT_EQ(ChooseLanes(o, 131072).lane_bits, 64);
  // A smallest weight outside [1, W] is clamped into it.
  o.max_weight = 1;
  EXPECT_EQ(ChooseLanes(o, 1e9).fractional_bits, 24);
  EXPECT_EQ(ChooseLanes(o, -3).lane_bits, 32);
}

TEST(QuantizeTest, LaneChoiceAndThirtyTwoBitSumsDoNotWrap) {
  // The aggregator's choice: 32-bit lanes while their largest f reaches 16, i.e. N * max(R, 1) * W <= 2^14.
  QuantizationOptions o;
  o.clip_range = 4;
  o.max_weight = 1;  // site-level DP: every weight is 1
  o.max_sites = 16;
  QuantizationOptions c = ChooseLanes(o);
  EXPECT_EQ(c.lane_bits, 32);
  EXPECT_EQ(c.fractional_bits, 24);  // 16 * 4 * 1 * 2^24 = 2^30
  o.max_weight = 256;                // 16 * 4 * 256 = 2^14: still 32 bits, f = 16
  EXPECT_EQ(ChooseLanes(o).lane_bits, 32);
  EXPECT_EQ(ChooseLanes(o).fractional_bits, 16);
  o.max_weight = 257;
  EXPECT_EQ(ChooseLanes(o).lane_bits, 64);
  o.max_weight = 1e6;  // the default weight bound (sample counts): 64-bit lanes, the old f
  c = ChooseLanes(o);
  EXPECT_EQ(c.lane_bits, 64);
  EXPECT_EQ(c.fractional_bits, MaxFractionalBits(o, 64));
  // The worst case in 32-bit lanes: N inputs at +R and -R with weight W sum to +-2^30 and decode exactly.
  o.max_weight = 1;
  c = ChooseLanes(o);
  absl::StatusOr<Quantizer> q = Quantizer::Create(c);
  ASSERT_TRUE(q.ok()) << q.status();
  std::vector<float> x = {4.0f, -4.0f, -100.0f};  // -100 clamps to -4
  std::vector<uint32_t> one(4), sum(4, 0);
  ASSERT_TRUE(q->Encode(x, 1, absl::MakeSpan(one)).ok());
  std::vector<uint64_t> wrong_width(4);
  EXPECT_FALSE(q->Encode(x, 1, absl::MakeSpan(wrong_width)).ok());  // a 64-bit buffer in a 32-bit round
  for (int s = 0; s < 16; ++s) {
    for (size_t i = 0; i < 4; ++i) sum[i] += one[i];
  }
  absl::StatusOr<DecodedSum> d = q->DecodeSum(sum, 16);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(d->weighted_sum[0], 64);
  EXPECT_DOUBLE_EQ(d->weighted_sum[1], -64);
  EXPECT_DOUBLE_EQ(d->weighted_sum[2], -64);
  EXPECT_DOUBLE_EQ(d->weight_sum, 16);
  sum[0] += 1u << 30;  // 2^31 wraps to -2^31, out of range: what a missed mask leaves is refused
  EXPECT_EQ(q->DecodeSum(sum, 16).status().code(), absl::StatusCode::kDataLoss);
  // Explicit (b, f) pairs: one fraction bit more than fits is refused, and so is an unknown width.
  c.fractional_bits = 25;
  EXPECT_FALSE(Quantizer::Create(c).ok());
  c.fractional_bits = 24;
  c.lane_bits = 16;
  EXPECT_FALSE(Quantizer::Create(c).ok());
}

}  // namespace
}  // namespace fedlog::secagg
