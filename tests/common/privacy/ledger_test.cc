#include "common/privacy/ledger.h"

#include "gtest/gtest.h"

namespace fedlog::privacy {
namespace {

TEST(LedgerTest, RoundsComposeInRdpNotByAddingEpsilons) {
  auto ledger = PrivacyLedger::Create({});
  ASSERT_TRUE(ledger.ok());
  const MechanismStep step{0.0025, 1.3, 3000};
  ASSERT_TRUE(ledger->Charge(1, step).ok());
  const double one = ledger->epsilon();
  ASSERT_TRUE(ledger->Charge(2, step).ok());
  // Two rounds of 3000 steps are one computation of 6000 steps (published: 0.7242234 at delta 1e-5) ...
  EXPECT_NEAR(ledger->epsilon(), 0.7242234, 1e-6);
  // ... and cost less than twice one round.
  EXPECT_LT(ledger->epsilon(), 2 * one);
  ASSERT_EQ(ledger->rounds().size(), 2u);
  EXPECT_EQ(ledger->rounds()[1].epsilon_after, ledger->epsilon());
}

TEST(LedgerTest, RefusesTheRoundThatWouldExceedTheTarget) {
  LedgerOptions o;
  o.target_epsilon = 4.0;
  auto ledger = PrivacyLedger::Create(o);
  ASSERT_TRUE(ledger.ok());
  const MechanismStep step{0.25, 1.5, 1};  // site-level: a quarter of the sites, one step per round
  int64_t round = 0;
  while (true) {
    auto would = ledger->WouldExceed(step);
    ASSERT_TRUE(would.ok());
    const double before = ledger->epsilon();
    absl::Status s = ledger->Charge(round + 1, step);
    if (*would) {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(ledger->epsilon(), before);  // nothing charged
      break;
    }
    ASSERT_TRUE(s.ok()) << s;
    ++round;
    ASSERT_LT(round, 10000);
  }
  EXPECT_GT(round, 5);
  EXPECT_LE(ledger->epsilon(), 4.0);
  EXPECT_GT(ledger->EpsilonIfCharged(step)->epsilon, 4.0);
}

TEST(LedgerTest, SerializeParseRoundTripsAndValidates) {
  auto ledger = PrivacyLedger::Create({});
  ASSERT_TRUE(ledger.ok());
  ASSERT_TRUE(ledger->Charge(3, {0.1, 1.2, 5}).ok());
  ASSERT_TRUE(ledger->Charge(7, {0.3, 0.9, 1}).ok());
  auto back = PrivacyLedger::Parse({}, ledger->Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->epsilon(), ledger->epsilon());
  EXPECT_EQ(back->rounds().size(), 2u);
  EXPECT_FALSE(PrivacyLedger::Parse({}, "garbage\n1 0.1 1 1\n").ok());
  EXPECT_FALSE(PrivacyLedger::Parse({}, "fedlog-privacy-ledger v1\n1 0.1 x 1\n").ok());
  // Rounds must increase.
  EXPECT_FALSE(PrivacyLedger::Parse({}, "fedlog-privacy-ledger v1\n2 0.1 1 1\n2 0.1 1 1\n").ok());
  EXPECT_FALSE(ledger->Charge(7, {0.1, 1, 1}).ok());
  // A stored ledger already beyond a (lowered) target is refused when read.
  LedgerOptions tight;
  tight.target_epsilon = 0.01;
  EXPECT_FALSE(PrivacyLedger::Parse(tight, ledger->Serialize()).ok());
}

TEST(LedgerTest, BadOptions) {
  LedgerOptions o;
  o.delta = 0;
  EXPECT_FALSE(PrivacyLedger::Create(o).ok());
  o = {};
  o.orders = {};
  EXPECT_FALSE(PrivacyLedger::Create(o).ok());
  o = {};
  o.orders = {0.5};
  EXPECT_FALSE(PrivacyLedger::Create(o).ok());
}

}  // namespace
}  // namespace fedlog::privacy
