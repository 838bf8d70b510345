// One bad site's shares (docs/rules/s24-secshares.md): robust, checked Shamir reconstruction, the self-mask
// seed commitment, complaints about shares that do not open, and blame for wrong revealed or dealt shares.
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/secagg/aggregator_session.h"
#include "common/secagg/protocol.h"
#include "common/secagg/shamir.h"
#include "common/secagg/site_session.h"
#include "gtest/gtest.h"

namespace fedlog::secagg {
namespace {

// --- Shamir -------------------------------------------------------------------------------------------------

struct Dealt {
  SecretKey secret;
  std::vector<ShamirShare> shares;
  std::function<bool(const SecretKey&)> check;
};

Dealt Deal(int t, int n) {
  Dealt d;
  d.secret = *SecretKey::Random();
  std::vector<uint32_t> xs;
  for (int i = 1; i <= n; ++i) xs.push_back(static_cast<uint32_t>(i));
  d.shares = *ShamirSplit(d.secret, t, xs);
  const SecretKey want = d.secret;
  d.check = [want](const SecretKey& k) { return k == want; };
  return d;
}

TEST(ShamirCheckedTest, OneWrongPointAmongMoreThanTIsFoundAndOutvoted) {
  for (size_t bad = 0; bad < 5; ++bad) {
    Dealt d = Deal(4, 5);
    d.shares[bad].y[2] ^= 1;
    // The plain combination of the first t shares is wrong whenever the bad point is among them.
    if (bad < 4) {
      absl::StatusOr<SecretKey> plain = ShamirCombine(d.shares, 4);
      EXPECT_TRUE(!plain.ok() || !(*plain == d.secret)) << bad;
    }
    absl::StatusOr<CheckedSecret> got = ShamirCombineChecked(d.shares, 4, d.check);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->secret == d.secret);
    EXPECT_EQ(got->bad_points, std::vector<uint32_t>{static_cast<uint32_t>(bad + 1)});
  }
}

TEST(ShamirCheckedTest, TwoWrongPointsAmongTPlusTwoAndNoneAreReported) {
  Dealt d = Deal(3, 7);
  absl::StatusOr<CheckedSecret> clean = ShamirCombineChecked(d.shares, 3, d.check);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_TRUE(clean->bad_points.empty());
  d.shares[0].y[0] = (d.shares[0].y[0] + 1) % kShamirPrime;
  d.shares[4].y[4] = (d.shares[4].y[4] + 7) % kShamirPrime;
  absl::StatusOr<CheckedSecret> got = ShamirCombineChecked(d.shares, 3, d.check);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->secret == d.secret);
  EXPECT_EQ(got->bad_points, (std::vector<uint32_t>{1, 5}));
}

TEST(ShamirCheckedTest, NoRedundancyOrNoBudgetIsDataLossNeverAWrongSecret) {
  Dealt d = Deal(3, 3);
  d.shares[1].y[1] ^= 4;
  EXPECT_EQ(ShamirCombineChecked(d.shares, 3, d.check).status().code(), absl::StatusCode::kDataLoss);
  // Two wrong points in different limbs (wrong points in one limb can cancel in the secret: 3 d0 - 3 d1 at
  // x = 1, 2, 3), so that no subset holding either passes.
  Dealt e = Deal(3, 6);
  e.shares[0].y[0] = (e.shares[0].y[0] + 1) % kShamirPrime;
  e.shares[1].y[1] = (e.shares[1].y[1] + 1) % kShamirPrime;
  EXPECT_EQ(ShamirCombineChecked(e.shares, 3, e.check, /*max_tries=*/2).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(ShamirCombineChecked(e.shares, 3, e.check).ok());
  std::vector<ShamirShare> repeated = {e.shares[0], e.shares[0], e.shares[2]};
  EXPECT_EQ(ShamirCombineChecked(repeated, 2, e.check).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SeedCommitmentTest, BindsSeedAndSession) {
  SecretKey a = *SecretKey::Random(), b = *SecretKey::Random();
  EXPECT_EQ(*SeedCommitment(a, "s1"), *SeedCommitment(a, "s1"));
  EXPECT_NE(*SeedCommitment(a, "s1"), *SeedCommitment(b, "s1"));
  EXPECT_NE(*SeedCommitment(a, "s1"), *SeedCommitment(a, "s2"));
}

// --- Protocol -----------------------------------------------------------------------------------------------

RoundConfig Config(int threshold) {
  RoundConfig c;
  c.session_id = "run-1/round-1/bad-shares";
  c.threshold = threshold;
  c.vector_length = 33;
  c.quantization.clip_range = 2.0;
  c.quantization.max_weight = 10;
  c.quantization.max_sites = 16;
  c.quantization.lane_bits = 64;
  return c;
}

// A round driven step by step; hooks edit what the aggregator receives.
struct Round {
  std::unique_ptr<AggregatorSession> agg;
  std::vector<std::unique_ptr<SiteSession>> sites;
  std::vector<AdvertiseKeys> adverts;
};

Round Advertised(const RoundConfig& c, int n) {
  Round r;
  r.agg = *AggregatorSession::Create(c);
  for (int i = 0; i < n; ++i) {
    SiteOptions o;
    o.site_id = absl::StrFormat("site-%02d", i);
    r.sites.push_back(*SiteSession::Create(o, c));
    r.adverts.push_back(*r.sites.back()->Advertise());
    EXPECT_TRUE(r.agg->AddAdvertisement(r.adverts.back()).ok());
  }
  return r;
}

// Shares, then masks value `value(i)` at weight 1 for every site; `spoil` edits site i's delivery first.
std::vector<MaskedInput> ShareAndMask(Round& r, const std::function<void(size_t, ShareDelivery*)>& spoil,
                                      float value = 0.5f) {
  KeyRoster roster = *r.agg->CloseAdvertising();
  for (auto& s : r.sites) EXPECT_TRUE(r.agg->AddShares(*s->ShareSecrets(roster)).ok());
  auto del = *r.agg->CloseSharing();
  std::vector<MaskedInput> masked;
  const std::vector<float> x(33, value);
  for (size_t i = 0; i < r.sites.size(); ++i) {
    ShareDelivery d = del.at(r.sites[i]->index());
    spoil(i, &d);
    absl::StatusOr<MaskedInput> m = r.sites[i]->MaskInput(d, x, 1.0);
    EXPECT_TRUE(m.ok()) << m.status();
    masked.push_back(*m);
    absl::Status st = r.agg->AddMaskedInput(*m);
    EXPECT_TRUE(st.ok()) << st;
  }
  return masked;
}

// Flips a bit of the share from roster index `from` in a delivery.
void Spoil(uint32_t from, ShareDelivery* d) {
  for (EncryptedShare& e : d->shares) {
    if (e.from == from) e.ciphertext[e.ciphertext.size() / 2] ^= 0x5a;
  }
}

TEST(SecAggBadSharesTest, SeedCommitmentIsAdvertisedAndMatchesTheSeed) {
  Round r = Advertised(Config(2), 3);
  for (size_t i = 0; i < r.sites.size(); ++i) {
    EXPECT_EQ(r.adverts[i].seed_commitment,
              *SeedCommitment(r.sites[i]->SecretsForTesting().self_mask_seed, Config(2).session_id));
  }
}

TEST(SecAggBadSharesTest, AShareThatDoesNotOpenIsReportedAndTheRoundCompletes) {
  Round r = Advertised(Config(3), 5);
  // Site 4's share to site 0 does not open: site 0 goes on, names it, and reveals nothing for it.
  uint32_t bad = 0;
  std::vector<MaskedInput> masked = ShareAndMask(r, [&](size_t i, ShareDelivery* d) {
    bad = r.sites[4]->index();
    if (i == 0) Spoil(bad, d);
  });
  EXPECT_EQ(masked[0].complaints, std::vector<uint32_t>{bad});
  EXPECT_TRUE(masked[1].complaints.empty());
  EXPECT_TRUE(r.agg->Unrecoverable(r.agg->share_holders()).empty());
  UnmaskRequest req = *r.agg->CloseMasking();
  for (size_t i = 0; i < r.sites.size(); ++i) {
    UnmaskResponse resp = *r.sites[i]->Unmask(req);
    EXPECT_EQ(resp.shares.size(), i == 0 ? 4u : 5u);
    if (i == 0) {
      // The aggregator refuses a share of the owner this site complained about.
      UnmaskResponse forged = resp;
      forged.shares.push_back(forged.shares.back());
      forged.shares.back().owner = bad;
      EXPECT_EQ(r.agg->AddUnmaskResponse(forged).code(), absl::StatusCode::kInvalidArgument);
    }
    ASSERT_TRUE(r.agg->AddUnmaskResponse(resp).ok());
  }
  absl::StatusOr<AggregateResult> result = r.agg->Finish();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->WeightedMean()[0], 0.5, 1e-4);
  EXPECT_TRUE(r.agg->blame().empty());
}

TEST(SecAggBadSharesTest, SharesThatOpenNowhereMakeTheAttemptFailBeforeAnyReveal) {
  Round r = Advertised(Config(2), 3);
  uint32_t bad = 0;
  ShareAndMask(r, [&](size_t i, ShareDelivery* d) {
    bad = r.sites[2]->index();
    if (i != 2) Spoil(bad, d);
  });
  // Named by both others: only site 2 itself holds a share of its secrets, fewer than t = 2.
  EXPECT_EQ(r.agg->complained_about().at(bad).size(), 2u);
  EXPECT_EQ(r.agg->Unrecoverable(r.agg->share_holders()), std::vector<uint32_t>{bad});
  EXPECT_EQ(r.agg->CloseMasking().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SecAggBadSharesTest, ComplaintsMustNameOtherHoldersOnce) {
  Round r = Advertised(Config(2), 3);
  KeyRoster roster = *r.agg->CloseAdvertising();
  for (auto& s : r.sites) ASSERT_TRUE(r.agg->AddShares(*s->ShareSecrets(roster)).ok());
  auto del = *r.agg->CloseSharing();
  MaskedInput m = *r.sites[0]->MaskInput(del.at(r.sites[0]->index()), std::vector<float>(33, 0.f), 1.0);
  const uint32_t self = r.sites[0]->index(), other = r.sites[1]->index();
  for (const std::vector<uint32_t>& bad : {std::vector<uint32_t>{self}, {other, other}, {99}}) {
    MaskedInput forged = m;
    forged.complaints = bad;
    EXPECT_EQ(r.agg->AddMaskedInput(forged).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(r.agg->AddMaskedInput(m).ok());
}

// Runs a 5-site, t = 3 round to the unmask responses; `edit` changes them before the aggregator takes them.
absl::StatusOr<AggregateResult> RevealAndFinish(Round& r,
                                                const std::function<void(std::vector<UnmaskResponse>*)>& edit) {
  ShareAndMask(r, [](size_t, ShareDelivery*) {});
  UnmaskRequest req = *r.agg->CloseMasking();
  std::vector<UnmaskResponse> responses;
  for (auto& s : r.sites) responses.push_back(*s->Unmask(req));
  edit(&responses);
  for (const UnmaskResponse& resp : responses) EXPECT_TRUE(r.agg->AddUnmaskResponse(resp).ok());
  return r.agg->Finish();
}

TEST(SecAggBadSharesTest, ARevealerLyingAboutTwoSecretsIsOutvotedAndBlamed) {
  Round r = Advertised(Config(3), 5);
  absl::StatusOr<AggregateResult> result = RevealAndFinish(r, [](std::vector<UnmaskResponse>* rs) {
    // The first responder lies about every share it reveals (owners of lower index first in the list).
    for (RevealedShare& s : (*rs)[0].shares) s.share.y[3] = (s.share.y[3] + 1) % kShamirPrime;
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->WeightedMean()[0], 0.5, 1e-4);
  ASSERT_EQ(r.agg->blame().size(), 1u);
  EXPECT_EQ(r.agg->blame()[0].index, r.sites[0]->index());
}

TEST(SecAggBadSharesTest, InconsistentSharesOfOneSecretBlameItsDealer) {
  Round r = Advertised(Config(3), 5);
  uint32_t dealer = 0;
  absl::StatusOr<AggregateResult> result = RevealAndFinish(r, [&](std::vector<UnmaskResponse>* rs) {
    dealer = r.sites[4]->index();
    // Two holders reveal shares of the dealer's seed that are off its polynomial (what a dealer dealing them
    // would show): the dealer is blamed, neither holder.
    for (size_t i : {1u, 2u}) {
      for (RevealedShare& s : (*rs)[i].shares) {
        if (s.owner == dealer) s.share.y[0] = (s.share.y[0] + 5 + i) % kShamirPrime;
      }
    }
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->WeightedMean()[0], 0.5, 1e-4);
  ASSERT_EQ(r.agg->blame().size(), 1u);
  EXPECT_EQ(r.agg->blame()[0].index, dealer);
}

TEST(SecAggBadSharesTest, OneWrongShareIsOutvotedAndBlamesNobody) {
  Round r = Advertised(Config(3), 5);
  absl::StatusOr<AggregateResult> result = RevealAndFinish(r, [](std::vector<UnmaskResponse>* rs) {
    // The first responder's share is among the first t: the plain combination would take it.
    (*rs)[0].shares[1].share.y[1] = ((*rs)[0].shares[1].share.y[1] + 1) % kShamirPrime;
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->WeightedMean()[0], 0.5, 1e-4);
  EXPECT_TRUE(r.agg->blame().empty());
}

}  // namespace
}  // namespace fedlog::secagg
