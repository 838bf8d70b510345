// End-to-end rounds of the secure-aggregation state machines, sites and aggregator in one process.
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/logging.h"
#include "common/secagg/aggregator_session.h"
#include "common/secagg/lanes.h"
#include "common/secagg/site_session.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

struct Scenario {
  int sites = 5;
  int threshold = 3;
  size_t d = 257;
  int lane_bits = 64;        // 32: a round in uint32 lanes, at the largest f that cannot wrap
  double max_weight = 1000;  // W
  std::set<int> drop_before_sharing;  // site numbers (0-based): never send shares
  std::set<int> drop_before_masking;  // send shares, never a masked input
  std::set<int> drop_before_unmask;   // send a masked input, never answer the unmask request
  // Optional: replaces the aggregator's unmask request for one site (by index) to play a deviating server.
  std::function<void(uint32_t index, UnmaskRequest*)> tamper;
};

struct Outcome {
  absl::StatusOr<AggregateResult> result = absl::UnknownError("not run");
  std::vector<absl::Status> site_errors;          // every refusal a site returned
  std::vector<SiteSession::Secrets> secrets;      // per site
  std::vector<UnmaskResponse> responses;          // what the sites revealed
  std::vector<MaskedInput> masked;                // what the aggregator received
  std::map<uint32_t, int> site_of_index;
};

std::string SiteId(int i) { return absl::StrFormat("site-%02d", i); }

RoundConfig Config(const Scenario& s) {
  RoundConfig c;
  c.session_id = "run-1/round-1/test";
  c.threshold = s.threshold;
  c.vector_length = s.d;
  c.quantization.clip_range = 2.0;
  c.quantization.max_weight = s.max_weight;
  c.quantization.max_sites = 64;
  c.quantization.lane_bits = s.lane_bits;
  return c;
}

Outcome RunRound(const Scenario& s, const std::vector<std::vector<float>>& x, const std::vector<double>& w) {
  Outcome out;
  const RoundConfig config = Config(s);
  auto agg = AggregatorSession::Create(config);
  EXPECT_TRUE(agg.ok());
  std::vector<std::unique_ptr<SiteSession>> sites;
  for (int i = 0; i < s.sites; ++i) {
    SiteOptions o;
    o.site_id = SiteId(i);
    auto site = SiteSession::Create(o, config);
    EXPECT_TRUE(site.ok()) << site.status();
    sites.push_back(std::move(*site));
    auto adv = sites.back()->Advertise();
    EXPECT_TRUE(adv.ok());
    EXPECT_TRUE((*agg)->AddAdvertisement(*adv).ok());
  }
  auto roster = (*agg)->CloseAdvertising();
  if (!roster.ok()) {
    out.result = roster.status();
    return out;
  }
  for (int i = 0; i < s.sites; ++i) {
    if (s.drop_before_sharing.count(i)) continue;
    auto m = sites[static_cast<size_t>(i)]->ShareSecrets(*roster);
    if (!m.ok()) {
      out.site_errors.push_back(m.status());
      continue;
    }
    EXPECT_TRUE((*agg)->AddShares(*m).ok());
  }
  for (int i = 0; i < s.sites; ++i) out.site_of_index[sites[static_cast<size_t>(i)]->index()] = i;
  auto deliveries = (*agg)->CloseSharing();
  if (!deliveries.ok()) {
    out.result = deliveries.status();
    return out;
  }
  for (int i = 0; i < s.sites; ++i) {
    if (s.drop_before_sharing.count(i) || s.drop_before_masking.count(i)) continue;
    SiteSession& site = *sites[static_cast<size_t>(i)];
    auto m = site.MaskInput(deliveries->at(site.index()), x[static_cast<size_t>(i)], w[static_cast<size_t>(i)]);
    if (!m.ok()) {
      out.site_errors.push_back(m.status());
      continue;
    }
    out.masked.push_back(*m);
    EXPECT_TRUE((*agg)->AddMaskedInput(*m).ok());
  }
  auto request = (*agg)->CloseMasking();
  if (!request.ok()) {
    out.result = request.status();
    return out;
  }
  for (int i = 0; i < s.sites; ++i) {
    if (s.drop_before_sharing.count(i) || s.drop_before_masking.count(i) || s.drop_before_unmask.count(i)) continue;
    SiteSession& site = *sites[static_cast<size_t>(i)];
    UnmaskRequest req = *request;
    if (s.tamper) s.tamper(site.index(), &req);
    auto r = site.Unmask(req);
    if (!r.ok()) {
      out.site_errors.push_back(r.status());
      continue;
    }
    out.responses.push_back(*r);
    EXPECT_TRUE((*agg)->AddUnmaskResponse(*r).ok());
  }
  for (auto& site : sites) out.secrets.push_back(site->SecretsForTesting());
  out.result = (*agg)->Finish();
  return out;
}

struct Inputs {
  std::vector<std::vector<float>> x;
  std::vector<double> w;
};

Inputs RandomInputs(int sites, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);  // test data only; keys and masks come from RAND_bytes
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  Inputs in;
  for (int i = 0; i < sites; ++i) {
    std::vector<float> v(d);
    for (float& f : v) f = u(rng);
    in.x.push_back(v);
    in.w.push_back(0.1 + 0.1 * (i % 4));  // 0.1 .. 0.4, like sample-share weights
  }
  return in;
}

// Checks the result against the plain weighted sum over `included` sites.
void ExpectPlainSum(const AggregateResult& r, const Inputs& in, const std::set<int>& included, int frac_bits) {
  const double tol = static_cast<double>(included.size()) * std::ldexp(0.5, -frac_bits) * 1.0001;
  double wsum = 0;
  for (int i : included) wsum += in.w[static_cast<size_t>(i)];
  EXPECT_NEAR(r.sum.weight_sum, wsum, tol);
  const std::vector<float> mean = r.WeightedMean();
  ASSERT_EQ(r.sum.weighted_sum.size(), in.x[0].size());
  for (size_t j = 0; j < r.sum.weighted_sum.size(); ++j) {
    double plain = 0;
    for (int i : included) plain += in.w[static_cast<size_t>(i)] * in.x[static_cast<size_t>(i)][j];
    ASSERT_NEAR(r.sum.weighted_sum[j], plain, tol) << "coordinate " << j;
    ASSERT_NEAR(mean[j], plain / wsum, 1e-6) << "coordinate " << j;
  }
}

int FracBits(const Scenario& s) { return Quantizer::Create(Config(s).quantization)->fractional_bits(); }

TEST(SecAggProtocolTest, UnmaskedSumEqualsPlainWeightedSum) {
  Scenario s;
  Inputs in = RandomInputs(s.sites, s.d, 1);
  Outcome o = RunRound(s, in.x, in.w);
  ASSERT_TRUE(o.result.ok()) << o.result.status();
  EXPECT_TRUE(o.site_errors.empty());
  EXPECT_EQ(o.result->survivors.size(), 5u);
  EXPECT_TRUE(o.result->dropped.empty());
  ExpectPlainSum(*o.result, in, {0, 1, 2, 3, 4}, FracBits(s));
}

TEST(SecAggProtocolTest, WeightsLikeThirtyFortyThirtyStillAverage) {
  Scenario s;
  s.sites = 3;
  s.threshold = 2;
  s.d = 3;
  Inputs in{{{1, 0, -1}, {0, 1, 1}, {1, 1, 0}}, {0.3, 0.4, 0.3}};
  Outcome o = RunRound(s, in.x, in.w);
  ASSERT_TRUE(o.result.ok()) << o.result.status();
  std::vector<float> mean = o.result->WeightedMean();
  EXPECT_NEAR(mean[0], 0.6, 1e-6);
  EXPECT_NEAR(mean[1], 0.7, 1e-6);
  EXPECT_NEAR(mean[2], 0.1, 1e-6);
}

TEST(SecAggProtocolTest, DropoutsBeforeAndAfterMaskingAreRecovered) {
  Scenario s;
  s.sites = 7;
  s.threshold = 4;
  s.drop_before_sharing = {1};  // never in U2: nobody masks with it
  s.drop_before_masking = {3};  // in U2, pairwise masks with it recovered from its key shares
  s.drop_before_unmask = {5};   // its input counts; its self mask recovered from the others' shares
  Inputs in = RandomInputs(s.sites, s.d, 2);
  Outcome o = RunRound(s, in.x, in.w);
  ASSERT_TRUE(o.result.ok()) << o.result.status();
  EXPECT_EQ(o.result->survivors.size(), 5u);  // 0, 2, 4, 5, 6
  ASSERT_EQ(o.result->dropped.size(), 1u);
  EXPECT_EQ(o.site_of_index[o.result->dropped[0]], 3);
  ExpectPlainSum(*o.result, in, {0, 2, 4, 5, 6}, FracBits(s));
}

TEST(SecAggProtocolTest, ThirtyTwoBitLanesSumAndRecoverDropouts) {
  // N * R * W = 64 * 2 * 1 fits 32-bit lanes with f = 23; the weights 0.1 .. 0.4 keep their step within 2^-16.
  Scenario s;
  s.sites = 7;
  s.threshold = 4;
  s.lane_bits = 32;
  s.max_weight = 1;
  s.drop_before_masking = {3};  // its pairwise masks are removed from the 32-bit sum via its key shares
  s.drop_before_unmask = {5};   // its self mask is removed via the others' seed shares
  const int f = FracBits(s);
  EXPECT_EQ(f, 23);
  Inputs in = RandomInputs(s.sites, s.d, 7);
  Outcome o = RunRound(s, in.x, in.w);
  ASSERT_TRUE(o.result.ok()) << o.result.status();
  EXPECT_TRUE(o.site_errors.empty());
  for (const MaskedInput& m : o.masked) EXPECT_EQ(m.lanes.size(), (s.d + 1) * 4);  // 4 bytes per lane
  ASSERT_EQ(o.result->dropped.size(), 1u);
  EXPECT_EQ(o.site_of_index[o.result->dropped[0]], 3);
  ExpectPlainSum(*o.result, in, {0, 1, 2, 4, 5, 6}, f);
  // The same inputs in 64-bit lanes give the same mean to within both quantisation errors.
  Scenario wide = s;
  wide.lane_bits = 64;
  Outcome o64 = RunRound(wide, in.x, in.w);
  ASSERT_TRUE(o64.result.ok()) << o64.result.status();
  const std::vector<float> m32 = o.result->WeightedMean(), m64 = o64.result->WeightedMean();
  for (size_t j = 0; j < m32.size(); ++j) ASSERT_NEAR(m32[j], m64[j], 1e-5) << j;
}

TEST(SecAggProtocolTest, SiteRefusesLanesThatCouldWrapOrLosePrecision) {
  // Wrap: 32-bit lanes with one fraction bit more than N * R * W allows.
  Scenario s;
  s.lane_bits = 32;
  s.max_weight = 1;
  RoundConfig c = Config(s);
  c.quantization.fractional_bits = MaxFractionalBits(c.quantization, 32) + 1;
  SiteOptions o;
  o.site_id = "a";
  EXPECT_EQ(SiteSession::Create(o, c).status().code(), absl::StatusCode::kInvalidArgument);
  c.quantization.fractional_bits -= 1;
  EXPECT_TRUE(SiteSession::Create(o, c).ok());
  // Precision: W = 1000 in 32-bit lanes leaves f = 13, a step of 2^-13 / w for a site of weight w. Sites of
  // weight 0.1 .. 0.4 would be quantised coarser than 2^-16 and refuse to mask; a round in 64-bit lanes is fine.
  Scenario coarse;
  coarse.lane_bits = 32;
  EXPECT_EQ(FracBits(coarse), 13);
  Inputs in = RandomInputs(coarse.sites, coarse.d, 8);
  Outcome refused = RunRound(coarse, in.x, in.w);
  EXPECT_FALSE(refused.result.ok());
  ASSERT_EQ(refused.site_errors.size(), 5u);
  for (const absl::Status& e : refused.site_errors) {
    EXPECT_EQ(e.code(), absl::StatusCode::kFailedPrecondition) << e;
    EXPECT_NE(e.message().find("coarser than 2^-16"), std::string::npos) << e;
  }
  EXPECT_TRUE(refused.masked.empty());  // nothing left any site
  // A site of weight 8 or more passes the same check (2^-13 / 8 = 2^-16).
  Quantizer q = *Quantizer::Create(Config(coarse).quantization);
  EXPECT_TRUE(q.CheckPrecision(8).ok());
  EXPECT_FALSE(q.CheckPrecision(7.9).ok());
  EXPECT_TRUE(q.CheckPrecision(0).ok());  // a site of weight 0 adds nothing
  // Even 64-bit lanes are refused when the aggregator states a needlessly small f.
  RoundConfig low = Config(Scenario{});
  low.quantization.fractional_bits = kMinFractionalBits;
  Quantizer ql = *Quantizer::Create(low.quantization);
  EXPECT_FALSE(ql.CheckPrecision(100).ok());
  EXPECT_TRUE(ql.CheckPrecision(256).ok());
}

TEST(SecAggProtocolTest, SiteRefusesToRevealBothSharesOfOnePeer) {
  Scenario s;
  s.sites = 5;
  s.threshold = 3;
  s.drop_before_masking = {4};
  // The server lists the dropped site as a survivor as well: with the self-mask shares and the mask-key shares
  // of one site it could strip all masks from that site's input.
  s.tamper = [](uint32_t, UnmaskRequest* r) { r->survivors.push_back(r->dropped[0]); };
  Inputs in = RandomInputs(s.sites, s.d, 3);
  Outcome o = RunRound(s, in.x, in.w);
  EXPECT_FALSE(o.result.ok());
  ASSERT_EQ(o.site_errors.size(), 4u);  // every honest survivor refused
  for (const absl::Status& e : o.site_errors) {
    EXPECT_EQ(e.code(), absl::StatusCode::kPermissionDenied) << e;
    EXPECT_NE(e.message().find("both"), std::string::npos);
  }
  EXPECT_TRUE(o.responses.empty());
}

// A session driven by hand to the close of masking: `n` sites (each with `min_survivors`), of which the first
// `masked` send an input of 0.5s at weight 1; the rest drop before masking.
struct MaskedRound {
  std::unique_ptr<AggregatorSession> agg;
  std::vector<std::unique_ptr<SiteSession>> sites;
  UnmaskRequest request;
};
void RunToUnmask(const RoundConfig& config, int n, int masked, int min_survivors, MaskedRound* out) {
  out->agg = *AggregatorSession::Create(config);
  for (int i = 0; i < n; ++i) {
    SiteOptions o;
    o.site_id = SiteId(i);
    o.min_survivors = min_survivors;
    out->sites.push_back(std::move(*SiteSession::Create(o, config)));
    ASSERT_TRUE(out->agg->AddAdvertisement(*out->sites.back()->Advertise()).ok());
  }
  auto roster = *out->agg->CloseAdvertising();
  for (auto& s : out->sites) ASSERT_TRUE(out->agg->AddShares(*s->ShareSecrets(roster)).ok());
  auto del = *out->agg->CloseSharing();
  std::vector<float> x(config.vector_length, 0.5f);
  for (int i = 0; i < masked; ++i) {
    SiteSession* s = out->sites[static_cast<size_t>(i)].get();
    ASSERT_TRUE(out->agg->AddMaskedInput(*s->MaskInput(del.at(s->index()), x, 1.0)).ok());
  }
  out->request = *out->agg->CloseMasking();
}

TEST(SecAggProtocolTest, SiteAnswersOnlyOneUnmaskRequest) {
  // A server that asks again, now calling a survivor "dropped", would get v's key share after its seed share.
  MaskedRound round;
  ASSERT_NO_FATAL_FAILURE(RunToUnmask(Config(Scenario{}), 3, 3, 0, &round));
  auto& sites = round.sites;
  const UnmaskRequest& req = round.request;
  ASSERT_TRUE(sites[0]->Unmask(req).ok());
  UnmaskRequest second{{1, 2}, {3}};  // index 3 was a survivor a moment ago
  auto again = sites[0]->Unmask(second);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(sites[0]->Unmask(req).ok());  // not even the same request twice
}

TEST(SecAggProtocolTest, FewerThanThresholdSurvivorsRefused) {
  // The aggregator will not ask ...
  Scenario s;
  s.sites = 5;
  s.threshold = 3;
  s.drop_before_masking = {0, 1, 2};
  Inputs in = RandomInputs(s.sites, s.d, 4);
  Outcome o = RunRound(s, in.x, in.w);
  EXPECT_EQ(o.result.status().code(), absl::StatusCode::kFailedPrecondition);
  // ... and a site refuses a request that claims fewer than t survivors.
  Scenario t;
  t.sites = 5;
  t.threshold = 3;
  t.tamper = [](uint32_t, UnmaskRequest* r) {
    r->dropped = {3, 4, 5};
    r->survivors = {1, 2};
  };
  Outcome p = RunRound(t, in.x, in.w);
  EXPECT_FALSE(p.result.ok());
  // Sites 1 and 2 are named survivors but see too few; 3, 4, 5 are told they dropped although they sent input.
  ASSERT_EQ(p.site_errors.size(), 5u);
  for (const absl::Status& e : p.site_errors) EXPECT_EQ(e.code(), absl::StatusCode::kFailedPrecondition) << e;
  EXPECT_TRUE(p.responses.empty());
}

// Site-level DP: a site's noise share is calibrated to n_min sites, so it refuses to unmask a sum over fewer
// survivors even when the threshold allows it (SiteOptions::min_survivors), and reveals nothing.
TEST(SecAggProtocolTest, SiteRefusesToUnmaskFewerSurvivorsThanItsDpMinimum) {
  Scenario sc;
  sc.sites = 4;
  sc.threshold = 3;
  MaskedRound round;
  // Each site's n_min is 4; the fourth drops before masking: 3 survivors, t = 3.
  ASSERT_NO_FATAL_FAILURE(RunToUnmask(Config(sc), 4, 3, /*min_survivors=*/4, &round));
  const UnmaskRequest& req = round.request;
  ASSERT_EQ(req.survivors.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto r = round.sites[static_cast<size_t>(i)]->Unmask(req);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  }
}

TEST(SecAggProtocolTest, SitePolicyRefusesWeakThresholds) {
  RoundConfig c = Config(Scenario{});
  c.threshold = 2;
  SiteOptions strict;
  strict.site_id = "a";
  strict.min_threshold = 3;
  EXPECT_EQ(SiteSession::Create(strict, c).status().code(), absl::StatusCode::kFailedPrecondition);
  // Majority: t = 2 of 4 sites is refused at the roster.
  auto agg = *AggregatorSession::Create(c);
  std::vector<std::unique_ptr<SiteSession>> sites;
  for (int i = 0; i < 4; ++i) {
    SiteOptions o;
    o.site_id = SiteId(i);
    sites.push_back(std::move(*SiteSession::Create(o, c)));
    ASSERT_TRUE(agg->AddAdvertisement(*sites.back()->Advertise()).ok());
  }
  auto roster = *agg->CloseAdvertising();
  EXPECT_EQ(sites[0]->ShareSecrets(roster).status().code(), absl::StatusCode::kFailedPrecondition);
}

// `n` sites of round `c`, each advertised to `agg` (an empty vector, and a test failure, when one is refused).
std::vector<std::unique_ptr<SiteSession>> AdvertisedSites(AggregatorSession* agg, const RoundConfig& c, int n) {
  std::vector<std::unique_ptr<SiteSession>> sites;
  for (int i = 0; i < n; ++i) {
    SiteOptions o;
    o.site_id = SiteId(i);
    sites.push_back(std::move(*SiteSession::Create(o, c)));
    absl::Status st = agg->AddAdvertisement(*sites.back()->Advertise());
    EXPECT_TRUE(st.ok()) << st;
    if (!st.ok()) return {};
  }
  return sites;
}

TEST(SecAggProtocolTest, RosterAndShareTamperingRefused) {
  RoundConfig c = Config(Scenario{});
  c.threshold = 2;
  auto agg = *AggregatorSession::Create(c);
  std::vector<std::unique_ptr<SiteSession>> sites = AdvertisedSites(agg.get(), c, 3);
  ASSERT_EQ(sites.size(), 3u);
  KeyRoster roster = *agg->CloseAdvertising();
  // A roster that swaps in the server's own mask key for site 0 is refused by site 0.
  KeyRoster forged = roster;
  forged.entries[0].mask_key = GenerateX25519()->public_key;
  EXPECT_FALSE(sites[0]->ShareSecrets(forged).ok());
  // Honest roster for the others; a flipped ciphertext bit makes the receiver go on without that share and
  // name its sender (bad_shares_test.cc has the rest).
  auto m1 = *sites[1]->ShareSecrets(roster);
  auto m2 = *sites[2]->ShareSecrets(roster);
  ASSERT_TRUE(agg->AddShares(m1).ok());
  ASSERT_TRUE(agg->AddShares(m2).ok());
  EXPECT_FALSE(agg->AddShares(m2).ok());  // duplicate
  auto del = *agg->CloseSharing();
  ShareDelivery d = del.at(sites[2]->index());
  d.shares[0].ciphertext[20] ^= 1;
  std::vector<float> x(c.vector_length, 0.f);
  absl::StatusOr<MaskedInput> complained = sites[2]->MaskInput(d, x, 1);
  ASSERT_TRUE(complained.ok()) << complained.status();
  EXPECT_EQ(complained->complaints, std::vector<uint32_t>{d.shares[0].from});
  // The aggregator rejects a masked input of the wrong length or from an unknown site.
  MaskedInput bad{sites[1]->index(), std::string(3 * 8, '\0'), {}};
  EXPECT_FALSE(agg->AddMaskedInput(bad).ok());
  bad.from = 99;
  EXPECT_FALSE(agg->AddMaskedInput(bad).ok());
}

// One bad site's messages to the aggregator (docs/SECURITY.md "One bad site under secure aggregation"): shares
// misaddressed, repeated, oversized, too few or under another index, and unmask responses revealing the wrong
// kind, point or owner, are refused one by one; the honest sites' messages are then still taken and the round
// completes with them.
TEST(SecAggProtocolTest, AggregatorRefusesMalformedSharesAndReveals) {
  RoundConfig c = Config(Scenario{});
  c.threshold = 2;
  auto agg = *AggregatorSession::Create(c);
  std::vector<std::unique_ptr<SiteSession>> sites = AdvertisedSites(agg.get(), c, 3);
  ASSERT_EQ(sites.size(), 3u);
  KeyRoster roster = *agg->CloseAdvertising();
  std::vector<ShareKeysMessage> honest;
  for (auto& s : sites) honest.push_back(*s->ShareSecrets(roster));
  const ShareKeysMessage& good = honest[2];
  const std::vector<std::pair<const char*, std::function<void(ShareKeysMessage*)>>> bad_shares = {
      {"to itself", [](ShareKeysMessage* m) { m->shares[0].to = m->from; }},
      {"to an unknown index", [](ShareKeysMessage* m) { m->shares[0].to = 99; }},
      {"twice to one site", [](ShareKeysMessage* m) { m->shares[1].to = m->shares[0].to; }},
      {"one share missing", [](ShareKeysMessage* m) { m->shares.pop_back(); }},
      {"one share too many", [](ShareKeysMessage* m) { m->shares.push_back(m->shares[0]); }},
      {"an envelope from another index", [](ShareKeysMessage* m) { m->shares[0].from = m->from == 1 ? 2 : 1; }},
      {"an oversized ciphertext", [](ShareKeysMessage* m) { m->shares[0].ciphertext.assign(1025, 'x'); }},
      {"from outside the roster", [](ShareKeysMessage* m) {
         m->from = 99;
         for (auto& e : m->shares) e.from = 99;
       }},
  };
  for (const auto& [what, edit] : bad_shares) {
    ShareKeysMessage m = good;
    edit(&m);
    EXPECT_EQ(agg->AddShares(m).code(), absl::StatusCode::kInvalidArgument) << what;
  }
  for (const ShareKeysMessage& m : honest) ASSERT_TRUE(agg->AddShares(m).ok());
  auto del = *agg->CloseSharing();
  std::vector<float> x(c.vector_length, 0.5f);
  for (auto& s : sites) ASSERT_TRUE(agg->AddMaskedInput(*s->MaskInput(del.at(s->index()), x, 1.0)).ok());
  UnmaskRequest request = *agg->CloseMasking();
  std::vector<UnmaskResponse> responses;
  for (auto& s : sites) responses.push_back(*s->Unmask(request));
  const std::vector<std::pair<const char*, std::function<void(UnmaskResponse*)>>> bad_reveals = {
      {"the mask key of a survivor", [](UnmaskResponse* r) { r->shares[0].kind = ShareKind::kMaskPrivateKey; }},
      {"another holder's point", [](UnmaskResponse* r) { r->shares[0].share.x = r->from == 1 ? 2 : 1; }},
      {"an owner twice", [](UnmaskResponse* r) { r->shares[1].owner = r->shares[0].owner; }},
      {"an owner outside the holders", [](UnmaskResponse* r) { r->shares[0].owner = 99; }},
      {"one share missing", [](UnmaskResponse* r) { r->shares.pop_back(); }},
      {"from a non-survivor", [](UnmaskResponse* r) { r->from = 99; }},
  };
  for (const auto& [what, edit] : bad_reveals) {
    UnmaskResponse r = responses[2];
    edit(&r);
    EXPECT_EQ(agg->AddUnmaskResponse(r).code(), absl::StatusCode::kInvalidArgument) << what;
  }
  for (const UnmaskResponse& r : responses) ASSERT_TRUE(agg->AddUnmaskResponse(r).ok());
  absl::StatusOr<AggregateResult> result = agg->Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->WeightedMean()[0], 0.5, 1e-4);
}

// Fraction of lanes whose top bit is set, and a chi-square statistic of the top 4 bits over 16 bins.
void UniformStats(const std::vector<uint64_t>& lanes, size_t count, double* top_bit, double* chi2) {
  std::vector<double> bins(16, 0);
  double ones = 0;
  for (size_t i = 0; i < count; ++i) {
    bins[lanes[i] >> 60] += 1;
    ones += static_cast<double>(lanes[i] >> 63);
  }
  const double expect = static_cast<double>(count) / 16;
  *chi2 = 0;
  for (double b : bins) *chi2 += (b - expect) * (b - expect) / expect;
  *top_bit = ones / static_cast<double>(count);
}

TEST(SecAggProtocolTest, MaskedInputLooksUniformAndCanaryShowsNoSignal) {
  // Site 0 plants a canary: coordinate 0 at the top of the range (2.0 at weight 1000), the rest 0 - a vector
  // whose plain encoding is constant and trivially recognisable.
  Scenario s;
  s.sites = 3;
  s.threshold = 2;
  s.d = 1 << 14;
  std::vector<std::vector<float>> x(3, std::vector<float>(s.d, 0.0f));
  x[0][0] = 2.0f;
  std::vector<double> w = {1000, 1000, 1000};
  // Across many rounds, site 0's masked canary lane, and a lane without canary, are uniform.
  const int kRounds = 120;
  std::vector<uint64_t> canary_lane, plain_lane;
  for (int r = 0; r < kRounds; ++r) {
    Outcome o = RunRound(s, x, w);
    ASSERT_TRUE(o.result.ok());
    const MaskedInput* m0 = nullptr;
    for (const MaskedInput& m : o.masked) {
      if (o.site_of_index[m.from] == 0) m0 = &m;
    }
    ASSERT_NE(m0, nullptr);
    std::vector<uint64_t> lanes(s.d + 1);
    ASSERT_EQ(m0->lanes.size(), lanes.size() * 8);
    for (size_t i = 0; i < lanes.size(); ++i) lanes[i] = LaneAt<uint64_t>(m0->lanes, i);
    canary_lane.push_back(lanes[0]);
    plain_lane.push_back(lanes[1]);
    if (r == 0) {
      // Within one masked vector: 16 bins of the top 4 bits; chi-square with 15 d.o.f. is below 37.7 with
      // probability 0.999.
      double top = 0, chi2 = 0;
      UniformStats(lanes, s.d, &top, &chi2);
      EXPECT_LT(chi2, 37.7);
      EXPECT_NEAR(top, 0.5, 0.03);
      // Without the masks the same vector is all zeros but one lane: the test can tell.
      Quantizer q = *Quantizer::Create(Config(s).quantization);
      std::vector<uint64_t> enc(s.d + 1);
      ASSERT_TRUE(q.Encode(x[0], 1000, absl::MakeSpan(enc)).ok());
      UniformStats(enc, s.d, &top, &chi2);
      EXPECT_GT(chi2, 1000);
      // The unmasked sum does carry the canary: 2.0 * 1000 in coordinate 0.
      EXPECT_NEAR(o.result->sum.weighted_sum[0], 2000.0, 1e-3);
    }
  }
  // Across rounds: mean of lane / 2^64 is 0.5 +- 0.026 (1 sd) for uniform lanes; the canary lane's plain
  // encoding would be a constant far from any tolerance.
  auto mean_frac = [](const std::vector<uint64_t>& v) {
    double m = 0;
    for (uint64_t l : v) m += std::ldexp(static_cast<double>(l), -64);
    return m / static_cast<double>(v.size());
  };
  EXPECT_NEAR(mean_frac(canary_lane), 0.5, 0.11);
  EXPECT_NEAR(mean_frac(plain_lane), 0.5, 0.11);
  std::set<uint64_t> distinct(canary_lane.begin(), canary_lane.end());
  EXPECT_EQ(distinct.size(), canary_lane.size());
}

// Every way a 32-byte secret could be written into a log line: raw bytes, hex in both cases, base64, and
// 8-byte windows of each (a partial dump).
std::vector<std::string> Renderings(const SecretKey& k) {
  std::string raw(reinterpret_cast<const char*>(k.data()), k.size());
  std::vector<std::string> forms;
  for (const std::string& f : {raw, absl::BytesToHexString(raw), absl::AsciiStrToUpper(absl::BytesToHexString(raw)),
                               absl::Base64Escape(raw)}) {
    for (size_t i = 0; i + 8 <= f.size(); i += 4) forms.push_back(f.substr(i, 8));
  }
  return forms;
}

TEST(SecAggProtocolTest, NoKeyOrShareIsLogged) {
  const LogLevel before = GetLogLevel();
  SetLogLevel(LogLevel::kDebug);
  testing::internal::CaptureStderr();
  Scenario s;
  s.sites = 5;
  s.threshold = 3;
  s.drop_before_masking = {2};
  Inputs in = RandomInputs(s.sites, 64, 5);
  s.d = 64;
  Outcome ok_run = RunRound(s, in.x, in.w);
  Scenario bad = s;  // and a run where sites refuse, which logs warnings
  bad.tamper = [](uint32_t, UnmaskRequest* r) { r->survivors.push_back(r->dropped[0]); };
  Outcome refused = RunRound(bad, in.x, in.w);
  const std::string log = testing::internal::GetCapturedStderr();
  SetLogLevel(before);
  ASSERT_TRUE(ok_run.result.ok());
  ASSERT_FALSE(refused.site_errors.empty());
  EXPECT_NE(log.find("secagg"), std::string::npos) << "the test must see the library's log lines";
  std::string messages = log;
  for (const absl::Status& e : refused.site_errors) absl::StrAppend(&messages, e.ToString(), "\n");
  for (const Outcome* o : {&ok_run, &refused}) {
    for (const SiteSession::Secrets& sec : o->secrets) {
      for (const SecretKey* k : {&sec.self_mask_seed, &sec.mask_private_key, &sec.encryption_private_key}) {
        for (const std::string& f : Renderings(*k)) ASSERT_EQ(messages.find(f), std::string::npos);
      }
    }
    for (const UnmaskResponse& r : o->responses) {
      for (const RevealedShare& sh : r.shares) {
        for (uint64_t y : sh.share.y) {
          ASSERT_EQ(messages.find(absl::StrCat(y)), std::string::npos);
          ASSERT_EQ(messages.find(absl::StrFormat("%x", y)), std::string::npos);
        }
      }
    }
  }
}

}  // namespace
}  // namespace fedlog::secagg
